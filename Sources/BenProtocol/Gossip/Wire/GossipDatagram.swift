public import BenCore

/// One gossip datagram as the machines see it: the fleet, the node that sent it, and a membership or broadcast
/// message. On the wire it ends in the sender's signature (`GossipWire`); the shell checks that before a machine
/// sees the message.
public struct GossipDatagram: Sendable, Hashable {
    /// The fleet; a datagram of another fleet is refused.
    public var fleet: FleetName
    /// The node that sent and signed it.
    public var sender: NodeID
    /// The membership or broadcast message it carries.
    public var message: GossipMessage

    /// A datagram from `sender`.
    public init(fleet: FleetName, sender: NodeID, message: GossipMessage) {
        self.fleet = fleet
        self.sender = sender
        self.message = message
    }
}

/// Which machine a datagram is for.
public enum GossipMessage: Sendable, Hashable {
    case membership(MembershipMessage)
    case broadcast(BroadcastMessage)
}
