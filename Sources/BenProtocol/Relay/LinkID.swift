/// Names one peer link for the length of a deployment.
///
/// Links a machine asks for (`.connect`) get ids from the machine; links that arrive at a listener get ids
/// from the shell. The two ranges never meet: the machine's ids have the top bit set.
public struct LinkID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The id's bits; the top bit is set for links a machine asked for.
    public let raw: UInt64

    /// An inbound link, numbered by the shell (`number` below 2^63).
    public init(inbound number: UInt64) {
        precondition(number < 1 << 63, "inbound link numbers are below 2^63")
        raw = number
    }

    init(outbound number: UInt64) { raw = number | 1 << 63 }

    /// Whether a machine asked for this link (`.connect`), rather than a listener accepting it.
    public var isOutbound: Bool { raw & 1 << 63 != 0 }

    /// The id as logs print it: `out#n` or `in#n`.
    public var description: String { isOutbound ? "out#\(raw & ~(1 << 63))" : "in#\(raw)" }
    /// Orders ids by their bits.
    public static func < (a: Self, b: Self) -> Bool { a.raw < b.raw }
}
