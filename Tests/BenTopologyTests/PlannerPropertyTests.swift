import BenCore
import BenTestKit
import BenTopology
import Testing

/// Issue 4 item 6: the planner's properties over hundreds of random topologies. Each failure names the seed;
/// `RandomFleets.fleet(seed:)` rebuilds the fleet exactly.
@Suite struct PlannerPropertyTests {
    static let seeds: [UInt64] = Array(1...300)

    /// Plans a random deployment over a random fleet; nil when the deployment selects nothing plannable.
    func plan(_ seed: UInt64, _ options: RandomFleets.Options = .init()) throws -> PlanChecks? {
        let t = RandomFleets.fleet(seed: seed, options)
        let d = RandomFleets.deployment(for: t, seed: seed)
        return try planOrNothing(t, d).map { PlanChecks(topology: t, deployment: d, planned: $0) }
    }

    /// The plan, or nil when the deployment selects no node that is up.
    func planOrNothing(_ t: Topology, _ d: Deployment) throws -> PlannedDeployment? {
        do {
            return try Planner().plan(t, d)
        } catch {
            if error.code == .noTargets { return nil }
            throw error
        }
    }

    @Test func everyStripeTreeCoversEveryNodeOnceWithoutCycles() throws {
        var planned = 0
        for seed in Self.seeds {
            guard let checks = try plan(seed) else { continue }
            planned += 1
            let problems = checks.coverage()
            #expect(problems.isEmpty, "seed \(seed): \(problems.prefix(5))")
        }
        #expect(planned > 250)
    }

    @Test func eachNodeRelaysInAtMostOneStripeTreeAndNeverRelayNodesAreLeaves() throws {
        for seed in Self.seeds {
            guard let checks = try plan(seed) else { continue }
            let problems = checks.relayDuty()
            #expect(problems.isEmpty, "seed \(seed): \(problems.prefix(5))")
        }
    }

    @Test func fanOutAndUplinkBoundsHold() throws {
        for seed in Self.seeds {
            guard let checks = try plan(seed) else { continue }
            let problems = checks.bounds()
            #expect(problems.isEmpty, "seed \(seed): \(problems.prefix(5))")
        }
    }

    @Test func boundaryCrossingsAreAsFewAsCapacityAllows() throws {
        var stripesChecked = 0
        for seed in Self.seeds {
            // Exactly the fewest when per-tier limits cannot bind; never fewer than capacity allows otherwise.
            if let exact = try plan(seed, .init(generousTiers: true)) {
                let problems = exact.minimalCrossings(exact: true)
                #expect(problems.isEmpty, "seed \(seed) (generous tiers): \(problems.prefix(5))")
                stripesChecked += exact.k
            }
            if let any = try plan(seed) {
                let problems = any.minimalCrossings(exact: false)
                #expect(problems.isEmpty, "seed \(seed): \(problems.prefix(5))")
            }
        }
        #expect(stripesChecked > 300)
    }

    @Test func racksAreEnteredOncePerStripeWhenRelaysHaveRoom() throws {
        // Uniform racks of relay-capable nodes: every rack receives each byte exactly once.
        for seed in 1...40 as ClosedRange<UInt64> {
            let t = TopologyGenerator.generate(
                .init(regions: 2, zonesPerRegion: 2, racksPerZone: 3, nodes: 12 * 20, seed: seed, variety: false))
            let checks = PlanChecks(topology: t, deployment: Fixtures.deployment(seed: seed), planned: try Planner().plan(t, Fixtures.deployment(seed: seed)))
            for s in 0..<checks.k {
                for (group, entries, _) in checks.crossings(stripe: s, level: { $0.rack }, inRackLimit: true) {
                    #expect(entries == 1, "seed \(seed): stripe \(s) enters rack \(group) \(entries) times")
                }
            }
        }
    }

    @Test func theSameInputGivesTheSamePlan() throws {
        for seed in Self.seeds.prefix(100) {
            let t = RandomFleets.fleet(seed: seed)
            let d = RandomFleets.deployment(for: t, seed: seed)
            guard let a = try? Planner().plan(t, d) else { continue }
            let b = try Planner().plan(t, d)
            #expect(a == b, "seed \(seed)")
            #expect(a.plan.canonicalBytes == b.plan.canonicalBytes, "seed \(seed)")
            // A topology read back from its canonical bytes plans the same (random fleets may break validation
            // rules the planner copes with, such as more stripes than the ledger may feed: read, not validate).
            let reading = Topology.parse(yaml: t.canonicalString, file: "canonical.json")
            #expect(reading.errors.isEmpty, "seed \(seed): \(reading.errors.prefix(3))")
            let again = try #require(reading.topology)
            #expect(again == t, "seed \(seed)")
            #expect(try Planner().plan(again, d) == a, "seed \(seed)")
        }
    }

    @Test func aNewSeedRotatesRelayDuty() throws {
        for seed in 1...30 as ClosedRange<UInt64> {
            let t = TopologyGenerator.generate(.init(regions: 1, zonesPerRegion: 2, racksPerZone: 2, nodes: 80, seed: seed, variety: false))
            var everRelayed = Set<NodeID>()
            var previous: [NodeID: Int]?
            var changed = false
            var entries = Set<NodeID>()
            for version in 1...12 as ClosedRange<UInt64> {
                let planned = try Planner().plan(t, Fixtures.deployment(version: version))
                let plan = planned.plan
                var load: [NodeID: Int] = [:]
                for s in 0..<plan.stripeCount {
                    for (i, p) in plan.stripes[s].enumerated() {
                        if p >= 0 { load[plan.nodes[Int(p)].id, default: 0] += 1 }
                        let outside = p < 0 || t.nodes[Int(planned.topologyIndex[Int(p)])].rack != t.nodes[Int(planned.topologyIndex[i])].rack
                        if outside { entries.insert(plan.nodes[i].id) }
                    }
                }
                everRelayed.formUnion(load.keys)
                if let previous, previous != load { changed = true }
                previous = load
            }
            #expect(changed, "seed \(seed): relay load never moved")
            // Over a dozen versions most nodes carry relay load at some point, and rack entry duty moves around.
            #expect(everRelayed.count >= t.nodes.count * 3 / 4, "seed \(seed): only \(everRelayed.count) of \(t.nodes.count) ever relayed")
            #expect(entries.count > 4 * 3, "seed \(seed): only \(entries.count) nodes were ever a rack's entry")
        }
    }

    @Test func withAnyNodesDownEveryOtherReachableNodeIsStillCovered() throws {
        var g = SeededGenerator(seed: 4242)
        for seed in Self.seeds {
            let t = RandomFleets.fleet(seed: seed, .init(generousTiers: true))
            // Take down a random share of the nodes, from none to nearly all.
            let share = Double.random(in: 0...0.9, using: &g)
            let down = t.nodes.filter { _ in Double.random(in: 0..<1, using: &g) < share }.map(\.id)
            let d = Fixtures.deployment(version: seed, down: down)
            guard let planned = try planOrNothing(t, d) else { continue }
            let checks = PlanChecks(topology: t, deployment: d, planned: planned)
            #expect(checks.coverage().isEmpty, "seed \(seed): \(checks.coverage().prefix(3))")
            if checks.everyoneReachable() {
                let unreachable = planned.excluded.filter { $0.reason == .unreachable }
                #expect(unreachable.isEmpty, "seed \(seed): \(unreachable.prefix(5)) left out though capacity suffices")
            }
            let downSet = Set(down)
            #expect(planned.plan.nodes.allSatisfy { !downSet.contains($0.id) }, "seed \(seed)")
        }
    }

    @Test func backupsAreNearbyAndOutsideTheNodesOwnChains() throws {
        for seed in Self.seeds.prefix(150) {
            guard let checks = try plan(seed) else { continue }
            let problems = checks.backups()
            #expect(problems.isEmpty, "seed \(seed): \(problems.prefix(5))")
        }
    }

    @Test func unreachableNodesAreReportedNotDropped() throws {
        // Three nodes may relay one child each, the ledger two: eight nodes cannot all be reached.
        var t = TopologyGenerator.generate(.init(regions: 1, zonesPerRegion: 1, racksPerZone: 2, nodes: 8, seed: 1, variety: false))
        t.ledger.maxFanOut = 2
        for i in t.nodes.indices { t.nodes[i].duty = i < 3 ? .normal : .never }
        t.defaults.maxFanOut = FanOut(total: 1, perTier: PerTier(repeating: 1))
        let planned = try Planner().plan(t, Fixtures.deployment())
        let unreachable = planned.excluded.filter { $0.reason == .unreachable }
        #expect(planned.plan.nodes.count == 5)
        #expect(unreachable.count == 3)
        #expect(planned.plan.validate() == nil)
        let errors = t.validate()
        #expect(errors.count == 3 && errors.allSatisfy { $0.code == .unreachable })
    }
}
