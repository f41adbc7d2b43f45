public import BenCore
public import BenTopology

/// Which topology tier a peer link crosses, for the `tier` label of the byte counters.
///
/// The ledger builds it from the topology it holds; an agent only if it is given the topology file
/// (`--topology`), since plans carry addresses, not locations. Without one, every byte is labelled `unknown`
/// rather than guessed.
public struct TierMap: Sendable {
    struct Place: Sendable, Hashable {
        var region: Int32
        var zone: Int32
        var rack: Int32
    }

    private let places: [NodeID: Place]
    private let ledgerPlace: Place

    /// The label for bytes whose other end the map cannot place.
    public static let unknown = "unknown"
    /// Every value the `tier` label takes.
    public static let labels = Tier.allCases.map(\.name) + [unknown]

    /// Places nobody: every tier is `unknown`.
    public init() {
        places = [:]
        ledgerPlace = Place(region: -1, zone: -1, rack: -1)
    }

    public init(_ topology: Topology) {
        var places: [NodeID: Place] = [:]
        places.reserveCapacity(topology.nodes.count)
        for node in topology.nodes { places[node.id] = Place(region: node.region, zone: node.zone, rack: node.rack) }
        self.places = places
        // The ledger sits in a zone but in no rack (Topology.tierFromLedger).
        ledgerPlace = Place(region: Int32(topology.ledger.region), zone: Int32(topology.ledger.zone), rack: -1)
    }

    /// The id the ledger goes by on peer links (its HELLO).
    public static let ledger: NodeID = "ledger"

    /// The tier between two ends (`TierMap.ledger` is the ledger); `unknown` if either is nil or not placed.
    public func tier(_ a: NodeID?, _ b: NodeID?) -> String {
        guard let x = place(a), let y = place(b) else { return Self.unknown }
        if x.rack >= 0 && x.rack == y.rack { return Tier.inRack.name }
        if x.zone == y.zone { return Tier.crossRack.name }
        if x.region == y.region { return Tier.crossZone.name }
        return Tier.crossRegion.name
    }

    private func place(_ node: NodeID?) -> Place? {
        guard let node else { return nil }
        if node == Self.ledger { return ledgerPlace.zone >= 0 ? ledgerPlace : nil }
        return places[node]
    }
}
