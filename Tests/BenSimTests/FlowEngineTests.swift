import BenCore
@testable import BenSim
import BenTopology
import Testing

/// The flow engine against closed forms on uniform links, and faults against the fault-free baseline.
@Suite struct FlowEngineTests {
    // Uniform fleet: uplink B = 1 Gbit/s = 125 MB/s, latency L = 1 ms, 16 chunks of 1 MiB, no compile. Every link
    // opens with a connect and a hello (3 one-way latencies) before its first chunk; below the ledger that setup
    // overlaps the parent's first chunk (c ÷ rate ≥ 2L here), so it adds 3L once.
    let b = 125_000_000.0
    let l = 0.001
    let c = Double(1 << 20)
    let chunks = 16.0

    func simulation(nodes: Int) throws -> FlowSimulation {
        try FlowSimulation(scenario: SimFixtures.scenario(SimFixtures.uniform(nodes: nodes)))
    }

    static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(b)) }

    @Test func chainMatchesThePipelineFormula() throws {
        // Node i is at depth i+1 and gets the full uplink: its last chunk lands at 3L + (C + i)·c/B + (i+1)·L.
        let sim = try simulation(nodes: 30)
        let run = try sim.run(.chain)
        #expect(run.completion.count == 30)
        for (i, t) in run.completion.enumerated() {
            let expected = 3 * l + (chunks + Double(i)) * c / b + Double(i + 1) * l
            #expect(Self.close(t, expected), "node \(i): \(t) s, formula \(expected) s")
        }
        #expect(run.ledgerEgress == Int64(chunks * c))
        #expect(run.duplicatedBytes == 0)
    }

    @Test func starMatchesTheSharedUplinkFormula() throws {
        // The ledger's uplink is shared by N children: everyone finishes at 3L + N·S/B + L.
        let n = 20
        let sim = try simulation(nodes: n)
        let run = try sim.run(.star)
        let expected = 3 * l + Double(n) * chunks * c / b + l
        for t in run.completion { #expect(Self.close(t, expected), "\(t) s, formula \(expected) s") }
        #expect(run.ledgerEgress == Int64(Double(n) * chunks * c))
        #expect(run.ledgerMessages == n)
    }

    @Test func completeBinaryTreeMatchesItsFormula() throws {
        // N = 2^5 − 2 = 30: the ledger and every relay have exactly two children, each link at B/2. A node at
        // depth d finishes at 3L + (C + d − 1)·2c/B + d·L; depth d holds 2^d nodes.
        let n = 30
        let sim = try simulation(nodes: n)
        let run = try sim.run(.binaryTree)
        var expected: [Double] = []
        for d in 1...4 { expected += [Double](repeating: 3 * l + (chunks + Double(d) - 1) * 2 * c / b + Double(d) * l, count: 1 << d) }
        let got = run.completion.sorted()
        #expect(got.count == expected.count)
        for (g, e) in zip(got, expected) { #expect(Self.close(g, e), "\(g) s, formula \(e) s") }
        let optimal = sim.fleet.optimalTime(bundleSize: sim.scenario.bundleSize)
        #expect(optimal > 0 && optimal <= got.last!)
    }

    @Test func everyStrategyDeliversEverythingWithoutFaults() throws {
        let sim = try simulation(nodes: 40)
        for strategy in Scenario.Strategy.allCases {
            let run = try sim.run(strategy)
            #expect(run.completedCount == 40, "\(strategy)")
            #expect(run.missing.isEmpty, "\(strategy)")
            #expect(run.receivedBytes >= 40 * Int64(chunks * c), "\(strategy)")
            #expect(run.activeAt != nil, "\(strategy)")
        }
    }

    @Test func sameSeedSameFiguresAndJSON() throws {
        let scenario = try SimFixtures.scenario(SimFixtures.small)
        let first = try FlowSimulation(scenario: scenario).runAll()
        let second = try FlowSimulation(scenario: scenario).runAll()
        #expect(SimReport(flow: first).jsonText() == SimReport(flow: second).jsonText())
        // A different seed moves the random pieces (the swarm, the binary tree's order, which nodes fail).
        var other = scenario
        other.seed = 12
        let third = try FlowSimulation(scenario: other).runAll()
        #expect(SimReport(flow: first).jsonText() != SimReport(flow: third).jsonText())
    }

    @Test func aDeadRelayHasABlastRadius() throws {
        var scenario = try SimFixtures.scenario(SimFixtures.small)
        scenario.faults = [.kill(at: 0.01, relays: 2, nodes: [])]
        scenario.strategies = [.benTree]
        let report = try FlowSimulation(scenario: scenario).runAll()
        let tree = try #require(report.strategies.first)
        let faulted = try #require(tree.faulted)
        // The two killed relays never complete; the rest does, later than without the fault.
        #expect(faulted.missing[.dead] == 2)
        #expect(faulted.stats.count == report.nodes - 2)
        #expect(faulted.adoptions > 0)
        let interior = tree.effects.filter(\.interiorFailure)
        #expect(interior.count == 2)
        for effect in interior {
            #expect(effect.nodesDelayed > 0, "\(effect.fault)")
            #expect(effect.nodesLost == 1, "\(effect.fault)")
            #expect(effect.maxSecondsAdded >= scenario.timing.detection, "\(effect.fault)")
        }
        #expect(faulted.stats.max > tree.baseline.stats.max)
    }

    @Test func faultsChangeOutcomesAndMissingNodesHaveReasons() throws {
        let scenario = try SimFixtures.scenario(SimFixtures.small)
        let report = try FlowSimulation(scenario: scenario).runAll()
        for s in report.strategies {
            let faulted = try #require(s.faulted, "\(s.strategy)")
            // Every node that did not complete is accounted for by a reason.
            #expect(faulted.stats.count + faulted.missingCount == report.nodes, "\(s.strategy)")
            #expect((faulted.missing[.dead] ?? 0) >= 2, "\(s.strategy)")
            #expect(faulted.missing[.stalled] == nil, "\(s.strategy): alive, reachable nodes never completed")
            #expect(s.baseline.missingCount == 0, "\(s.strategy)")
            #expect(s.effects.contains { $0.fault == "all faults together" && ($0.nodesDelayed > 0 || $0.nodesLost > 0) }, "\(s.strategy)")
        }
        // The partition cuts a zone off: nodes there either finished before it or are reported partitioned.
        let star = try #require(report.strategies.first { $0.strategy == .star }?.faulted)
        #expect((star.missing[.partitioned] ?? 0) > 0)
    }

    @Test func swarmDuplicatesNothingButTalksToTheLedgerPerNode() throws {
        let sim = try simulation(nodes: 40)
        let run = try sim.run(.swarm)
        #expect(run.completedCount == 40)
        #expect(run.ledgerMessages == 40)
        let tree = try sim.run(.benTree)
        #expect(tree.ledgerMessages < 40)
    }
}
