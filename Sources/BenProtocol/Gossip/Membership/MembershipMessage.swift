public import BenCore

/// A member's incarnation: raised only by the member itself, to refute a suspicion or a death it hears about.
/// Of two claims about a member, the one with the higher incarnation wins (SWIM §4.2).
public typealias Incarnation = UInt32

/// What one node says about a member, piggybacked on membership messages (SWIM's infection-style dissemination).
public struct MemberUpdate: Sendable, Hashable, CustomStringConvertible {
    /// What the update says of the member.
    public enum Status: Sendable, Hashable {
        case alive
        /// `by` suspects the member; independent suspicions (distinct `by`s) shorten the suspicion timeout.
        case suspect(by: NodeID)
        /// `by` declared the member dead when its suspicion ran out.
        case dead(by: NodeID)
    }

    /// The member the update is about.
    public var node: NodeID
    /// The member's incarnation the update speaks of; a higher one overrides a lower.
    public var incarnation: Incarnation
    /// Alive, suspect or dead.
    public var status: Status

    /// An update about `node` at `incarnation`.
    public init(node: NodeID, incarnation: Incarnation, status: Status) {
        self.node = node
        self.incarnation = incarnation
        self.status = status
    }

    /// The update as logs print it.
    public var description: String {
        switch status {
        case .alive: "alive(\(node), \(incarnation))"
        case .suspect(let by): "suspect(\(node), \(incarnation), by \(by))"
        case .dead(let by): "dead(\(node), \(incarnation), by \(by))"
        }
    }
}

/// A membership datagram (SWIM with Lifeguard). Every message carries its sender's incarnation, so any message from
/// a member is also its own `alive` claim, and a bounded list of piggybacked updates.
public enum MembershipMessage: Sendable, Hashable {
    /// "Are you there?" The receiver answers `ack` with the same sequence number.
    case ping(sequence: UInt32, incarnation: Incarnation, updates: [MemberUpdate])
    /// "Ping `target` for me" (the indirect probe): the receiver pings the target and forwards its ack, or answers
    /// `nack` when the target stays silent (Lifeguard), so the requester can tell a dead target from its own
    /// troubles.
    case pingRequest(sequence: UInt32, incarnation: Incarnation, target: NodeID, updates: [MemberUpdate])
    case ack(sequence: UInt32, incarnation: Incarnation, updates: [MemberUpdate])
    case nack(sequence: UInt32, incarnation: Incarnation, updates: [MemberUpdate])

    /// The probe's sequence number, which its answer repeats.
    public var sequence: UInt32 {
        switch self {
        case .ping(let s, _, _), .pingRequest(let s, _, _, _), .ack(let s, _, _), .nack(let s, _, _): s
        }
    }

    /// The sender's own incarnation.
    public var incarnation: Incarnation {
        switch self {
        case .ping(_, let i, _), .pingRequest(_, let i, _, _), .ack(_, let i, _), .nack(_, let i, _): i
        }
    }

    /// The member updates piggybacked on the message.
    public var updates: [MemberUpdate] {
        switch self {
        case .ping(_, _, let u), .pingRequest(_, _, _, let u), .ack(_, _, let u), .nack(_, _, let u): u
        }
    }

    /// The message's name in logs and metrics.
    public var name: String {
        switch self {
        case .ping: "ping"
        case .pingRequest: "ping-req"
        case .ack: "ack"
        case .nack: "nack"
        }
    }
}

/// A member's status as this node sees it, for the shell (`benctl members`, relays adopting a dead child's
/// children, the ledger's `down`).
public enum MemberStatus: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case alive
    case suspect
    case dead

    /// The status as logs name it.
    public var description: String { rawValue }
}

/// A member changed status, as this node sees it.
public struct MemberChange: Sendable, Hashable, CustomStringConvertible {
    /// The member.
    public var node: NodeID
    /// Its new status.
    public var status: MemberStatus
    /// The incarnation the change was made at.
    public var incarnation: Incarnation

    /// A change of `node` to `status`.
    public init(node: NodeID, status: MemberStatus, incarnation: Incarnation) {
        self.node = node
        self.status = status
        self.incarnation = incarnation
    }

    /// The change as logs print it.
    public var description: String { "\(node) \(status) (incarnation \(incarnation))" }
}

/// One row of `MembershipMachine.members`: what this node knows of a member.
public struct MemberInfo: Sendable, Hashable {
    /// The member.
    public var node: NodeID
    /// Its status as this node sees it.
    public var status: MemberStatus
    /// The highest incarnation this node heard of it.
    public var incarnation: Incarnation
    /// This node probes it (it is in the view, or watched).
    public var probed: Bool
    /// When this node last had an authenticated message from the member itself; nil if never.
    public var lastHeard: Timestamp?
    /// When this node's record of the member last changed (its status or incarnation).
    public var since: Timestamp
}
