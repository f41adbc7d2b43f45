import BenCore
import BenTopology
import Testing

/// The first-level subtrees the ledger hands out, and what they cost on the wire.
@Suite struct SubtreeTests {
    @Test func theLedgersSubtreesCoverEachStripeAndRoundTrip() throws {
        let t = TopologyGenerator.generate(.init(regions: 2, zonesPerRegion: 2, racksPerZone: 3, nodes: 240, seed: 8))
        let planned = try Planner().plan(t, Fixtures.deployment())
        let plan = planned.plan
        let planKey = Key(digest: [UInt8](repeating: 3, count: 32))
        let subtrees = planned.ledgerSubtrees(planKey: planKey)
        #expect(subtrees.count == (0..<plan.stripeCount).reduce(0) { $0 + planned.ledgerChildren(stripe: $1).count })
        for s in 0..<plan.stripeCount {
            let mine = subtrees.filter { $0.stripe == s }
            var seen = Set<NodeID>()
            for subtree in mine {
                #expect(subtree.depth == 1 && subtree.plan == planKey && subtree.version == plan.version)
                for node in subtree.nodes { #expect(seen.insert(node.id).inserted, "stripe \(s): \(node.id) twice") }
                let decoded = try Subtree.decode(subtree.canonicalBytes)
                #expect(decoded == subtree)
                // A child's own part, cut again, is what its parent would send it.
                if subtree.nodes.count > 1, let child = subtree.children(of: 0).first {
                    let part = subtree.subtree(at: child)
                    #expect(part.depth == 2 && part.root == subtree.nodes[child])
                }
            }
            #expect(seen == Set(plan.nodes.map(\.id)), "stripe \(s) misses nodes")
        }
    }

    @Test func aSubtreeCostsAFewDozenBytesPerNode() throws {
        let t = TopologyGenerator.generate(.init(regions: 2, zonesPerRegion: 3, racksPerZone: 8, nodes: 2000, seed: 2))
        let planned = try Planner().plan(t, Fixtures.deployment())
        let subtrees = planned.ledgerSubtrees(planKey: Fixtures.key)
        let bytes = subtrees.reduce(0) { $0 + $1.canonicalBytes.count }
        let nodes = subtrees.reduce(0) { $0 + $1.nodes.count }
        // Node (id, address) ≈ 50 bytes, parent ≈ 4, two backups as (id, address) ≈ 100: well under 200.
        #expect(Double(bytes) / Double(nodes) < 200, "\(bytes / nodes) bytes per node")
    }

    @Test func forwardingOrderPutsTheLargestSubtreeFirst() throws {
        let t = TopologyGenerator.generate(.init(regions: 1, zonesPerRegion: 1, racksPerZone: 3, nodes: 60, seed: 4))
        let planned = try Planner().plan(t, Fixtures.deployment())
        for s in 0..<planned.stripeCount {
            let tree = StripeTree(parents: planned.plan.stripes[s])
            for kids in planned.forwardingOrder(stripe: s) {
                let sizes = kids.map { tree.subtreeSize[Int($0)] }
                #expect(sizes == sizes.sorted(by: >))
            }
        }
    }
}
