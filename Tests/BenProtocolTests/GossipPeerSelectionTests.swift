import BenCore
import BenProtocol
import Testing

/// Topology-aware views: some peers in the rack, some across racks, zones and regions; deterministic for a seed.
@Suite struct GossipPeerSelectionTests {
    static let roster = GossipFixtures.roster(regions: 2, zones: 2, racks: 3, perRack: 10)

    func tiers(of node: NodeID, _ view: [NodeID], in roster: GossipRoster = Self.roster) -> [Int] {
        let me = roster.location(of: node)!
        var counts = [0, 0, 0, 0]
        for peer in view {
            let l = roster.location(of: peer)!
            counts[l.rack == me.rack ? 0 : l.zone == me.zone ? 1 : l.region == me.region ? 2 : 3] += 1
        }
        return counts
    }

    @Test func aViewSpansTheRackZoneAndRegionInTurn() {
        let node: NodeID = "r1z0k2-4"
        let view = PeerSelection.view(of: node, in: Self.roster, seed: 7)
        #expect(view.count == 14)
        #expect(Set(view).count == 14 && !view.contains(node))
        #expect(tiers(of: node, view) == [4, 4, 3, 3])
        #expect(tiers(of: node, Array(view.prefix(4))) == [1, 1, 1, 1], "any prefix is as diverse as it can be")
        #expect(PeerSelection.view(of: node, in: Self.roster, seed: 7) == view, "deterministic for a seed")
        #expect(PeerSelection.view(of: node, in: Self.roster, seed: 8) != view)
        #expect(PeerSelection.view(of: "nobody", in: Self.roster, seed: 7).isEmpty)
    }

    @Test func aSmallFleetMovesUnfillableQuotaToNearerTiers() {
        let small = GossipFixtures.roster(racks: 2, perRack: 5)
        let node: NodeID = "r0z0k0-0"
        let view = PeerSelection.view(of: node, in: small, seed: 1)
        #expect(tiers(of: node, view, in: small) == [4, 5, 0, 0], "everyone else, when the fleet is smaller than a view")
        let regions = GossipFixtures.roster(regions: 3, zones: 1, racks: 1, perRack: 2)
        let spread = PeerSelection.view(of: "r0z0k0-0", in: regions, quota: .init(inRack: 0, crossRack: 0, crossZone: 0, crossRegion: 6), seed: 1)
        #expect(tiers(of: "r0z0k0-0", spread, in: regions) == [1, 0, 0, 4], "what no tier can fill goes outward, then inward")
    }

    /// Views are drawn independently per node, so no node is in far more views than the average.
    @Test func inDegreesAreEven() {
        let roster = GossipFixtures.roster(regions: 2, zones: 3, racks: 5, perRack: 40)  // 1200 nodes
        var inDegree: [NodeID: Int] = [:]
        for peer in roster.peers {
            for v in PeerSelection.view(of: peer.node, in: roster, seed: 3) { inDegree[v, default: 0] += 1 }
        }
        let max = inDegree.values.max() ?? 0
        #expect(inDegree.count == roster.count, "everyone is in someone's view")
        #expect(max <= 3 * 14, "max in-degree \(max) against a mean of 14")
    }
}
