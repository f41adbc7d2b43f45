public import BenCore

/// Names one peer link for the length of a deployment.
///
/// Links a machine asks for (`.connect`) get ids from the machine; links that arrive at a listener get ids
/// from the shell. The two ranges never meet: the machine's ids have the top bit set.
public struct LinkID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let raw: UInt64

    /// An inbound link, numbered by the shell (`number` below 2^63).
    public init(inbound number: UInt64) {
        precondition(number < 1 << 63, "inbound link numbers are below 2^63")
        raw = number
    }

    init(outbound number: UInt64) { raw = number | 1 << 63 }

    public var isOutbound: Bool { raw & 1 << 63 != 0 }

    public var description: String { isOutbound ? "out#\(raw & ~(1 << 63))" : "in#\(raw)" }
    public static func < (a: Self, b: Self) -> Bool { a.raw < b.raw }
}

/// The timers a machine arms. Each comes back as `onTimer(_:now:)`.
public enum TimerID: Sendable, Hashable, CustomStringConvertible {
    /// No parent has contacted this node since it accepted the announcement: pull from the store.
    case orphan(Version)
    /// Send the aggregate with whatever acks are in.
    case ackDeadline(Version)
    /// Try a failed child link again.
    case linkRetry(Version, NodeID)
    /// Look for stripes whose chunks stopped arriving, and fetch those chunks elsewhere.
    case progressCheck(Version)
    /// Look for child links this relay's upload has fallen behind on, and hand their backlog off.
    case relayCheck(Version)
    /// The ledger's deadline for a deployment.
    case deploymentDeadline(Version)

    public var description: String {
        switch self {
        case .orphan(let v): "orphan(\(v))"
        case .ackDeadline(let v): "ack-deadline(\(v))"
        case .linkRetry(let v, let n): "link-retry(\(v), \(n))"
        case .progressCheck(let v): "progress-check(\(v))"
        case .relayCheck(let v): "relay-check(\(v))"
        case .deploymentDeadline(let v): "deadline(\(v))"
        }
    }
}
