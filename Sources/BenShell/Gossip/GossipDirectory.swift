public import BenCore
public import BenCrypto
public import BenProtocol
public import BenTopology

/// Who may gossip in a fleet, and how to reach and check them, from its topology: every node with its location
/// and its key, and the ledger, which joins as one more member in a rack of its own in its zone (docs/gossip.md).
///
/// A node's gossip port is its topology address's port, over UDP: the agent binds UDP where its peer link listens
/// (`--listen`), and the ledger where its seed listener does (`--seed-listen`, the topology's `ledger.address`).
/// TCP and UDP ports are separate, so nothing new needs to be opened or listed.
public struct GossipDirectory: Sendable {
    /// The id the ledger gossips under (as on peer links).
    public static let ledger: NodeID = "ledger"

    public let fleet: FleetName
    /// The key of the topology this directory was made from (BLAKE2b-256 of its canonical bytes, as announcements
    /// name it).
    public let topologyKey: Key
    public let roster: GossipRoster
    /// Where each member's datagrams go.
    public let addresses: [NodeID: HostPort]
    /// The keys each member's datagrams may be signed with: its topology key; for the ledger, every trusted ledger
    /// key.
    let memberKeys: [NodeID: TrustedKeys]
    /// Each node's topology key: what a peer link's handshake checks when a member opens one for a GOSSIP frame.
    public let nodeKeys: [NodeID: PublicKey]
    /// The keys an announcement must be signed by.
    let ledgerKeys: TrustedKeys
    /// Each member's place, as `region/zone/rack` (the ledger's rack is `ledger`), for logs and `benctl members`.
    public let locations: [NodeID: String]

    /// - Parameter ledgerKeys: the ledger keys this process trusts (an agent's `--ledger-key`; the ledger's own).
    public init(topology: Topology, ledgerKeys: TrustedKeys) {
        fleet = topology.fleet
        topologyKey = BLAKE2b.key(of: topology.canonicalBytes)
        var peers: [GossipPeer] = []
        var addresses: [NodeID: HostPort] = [:]
        var keys: [NodeID: TrustedKeys] = [:]
        var nodeKeys: [NodeID: PublicKey] = [:]
        var locations: [NodeID: String] = [:]
        peers.reserveCapacity(topology.nodes.count + 1)
        for (i, node) in topology.nodes.enumerated() {
            peers.append(GossipPeer(node: node.id, location: GossipLocation(region: node.region, zone: node.zone, rack: node.rack)))
            addresses[node.id] = node.address
            if let key = PublicKey(bytes: node.key.bytes) {
                keys[node.id] = TrustedKeys([key])
                nodeKeys[node.id] = key
            }
            locations[node.id] = topology.location(of: i)
        }
        // The ledger sits in its zone, in a rack of its own (as the gossip engine places it).
        let ledgerRack = Int32(topology.racks.count)
        peers.append(
            GossipPeer(
                node: Self.ledger, location: GossipLocation(region: Int32(topology.ledger.region), zone: Int32(topology.ledger.zone), rack: ledgerRack)))
        addresses[Self.ledger] = topology.ledger.address
        keys[Self.ledger] = ledgerKeys
        let zone = topology.zones[topology.ledger.zone]
        locations[Self.ledger] = "\(topology.regions[topology.ledger.region].name)/\(zone.name)/ledger"
        roster = GossipRoster(peers)
        self.addresses = addresses
        memberKeys = keys
        self.nodeKeys = nodeKeys
        self.ledgerKeys = ledgerKeys
        self.locations = locations
    }

    /// Seeds every node's choice of view: the same on every node of the fleet.
    public var viewSeed: UInt64 { GossipRandom.hash(fleet.rawValue) }
}
