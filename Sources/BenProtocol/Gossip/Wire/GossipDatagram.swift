public import BenCore

/// One gossip datagram as the machines see it: the fleet, the node that sent it, and a membership or broadcast
/// message. On the wire it ends in the sender's signature (`GossipWire`); the shell checks that before a machine
/// sees the message.
public struct GossipDatagram: Sendable, Hashable {
    public var fleet: FleetName
    public var sender: NodeID
    public var message: GossipMessage

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
