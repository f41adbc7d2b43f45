import BenCore
@testable import BenSim
import BenProtocol
import BenTestKit
import Testing

/// Rollouts in waves on the protocol engine (issue 17, item 4): the very same deployment and agent machines run the
/// waves, gates, bakes, two-phase barriers and rollbacks over the simulated network, and the engine checks against
/// its own ground truth that no node of a wave activates before that wave's gate passed.
@Suite struct RolloutSimTests {
    /// The small fixture (120 nodes in 12 racks, relays killed during v1, the gremlin) with v2 rolled out in three
    /// waves: one node per rack, then half of each rack, then the rest. The relays killed during v1 are missing in
    /// every wave, so the gates tolerate them (two-phase gates the last wave's prepare too).
    static func yaml(activation: String = "two_phase", onFailure: String = "stay", price: Bool = false) -> String {
        SimFixtures.small + """

            rollout:
              activation: \(activation)
              price_canary_failure: \(price)
              policy:
                on_failure: \(onFailure)
                waves:
                  - {name: canary, select: {rack_percent: 10}, bake: 2s, gates: {max_refusals: 0, max_missing: 12}}
                  - {name: half, select: {rack_percent: 50}, bake: 1s, gates: {max_refusals: 0, max_missing: 60}}
                  - {name: rest, gates: {max_refusals: 0, max_missing: 60}}
            """
    }

    func engine(_ yaml: String, change: (inout Scenario) -> Void = { _ in }) throws -> (ProtocolEngine, ProtocolOutcome) {
        var scenario = try SimFixtures.scenario(yaml)
        change(&scenario)
        let fleet = try SimFleet(scenario: scenario)
        let engine = try ProtocolEngine(
            fleet: fleet, run: scenario.protocolRun!, chunkSize: scenario.chunkSize, seed: scenario.seed, rollout: scenario.rollout)
        return (engine, try engine.runAll())
    }

    /// Nanoseconds at which each node first activated `version`, by node index.
    func activatedAt(_ engine: ProtocolEngine, _ version: Version) -> [Int: Int64] {
        var at: [Int: Int64] = [:]
        for (i, list) in engine.activations.enumerated() {
            if let first = list.first(where: { $0.version == version }) { at[i] = first.at }
        }
        return at
    }

    @Test func twoPhaseWavesStartOnlyAfterTheGateBeforeThemPassedAndSwapTogether() throws {
        let (engine, outcome) = try engine(Self.yaml())
        #expect(outcome.passed, "\(outcome.violations)")
        #expect(outcome.relaysKilled > 0)
        let rollout = try #require(outcome.rollout)
        let version = rollout.version
        #expect(rollout.twoPhase)
        #expect(rollout.waves.map(\.name) == ["canary", "half", "rest"])
        #expect(rollout.waves.map(\.nodes).reduce(0, +) == outcome.nodes, "every node is in exactly one wave")
        #expect(rollout.status == .active || rollout.status == .incomplete, "\(rollout.status) \(rollout.abortReason ?? "")")
        #expect(rollout.activationsSent == 3, "one signed activation per wave")
        // Each wave starts after the one before it was proven and baked.
        for i in 1..<rollout.waves.count {
            let before = rollout.waves[i - 1]
            let started = try #require(rollout.waves[i].startedAfter, "wave \(i + 1) never started")
            let decided = try #require(before.decidedAfter)
            let passed = try #require(before.passedAfter)
            #expect(passed >= decided + before.bake - 0.001, "wave \(i) baked \(passed - decided) s of \(before.bake) s")
            #expect(started >= passed, "wave \(i + 1) started at \(started) s, before wave \(i) passed at \(passed) s")
        }
        // The report's view of the same: each wave swapped at one moment, after it started.
        for w in rollout.waves {
            #expect(w.nodesActive > 0 && w.firstActiveAfter == w.lastActiveAfter, "\(w.name): \(w.nodesActive) active, \(w)")
            #expect((w.firstActiveAfter ?? -1) >= (w.startedAfter ?? .infinity), "\(w.name)")
        }
        let full = try #require(rollout.decidedAfter)
        #expect(rollout.bakeSeconds == 3)
        #expect(full > rollout.bakeSeconds)

        // The engine's own record: within a wave every node that activated swapped at the one barrier; nodes of a
        // later wave, after the earlier wave's activations.
        let at = activatedAt(engine, version)
        var previousLatest: Int64 = -1
        for (w, wave) in engine.waves.targets.enumerated() {
            let times = wave.nodes.compactMap { engine.nodeIndex[$0] }.compactMap { at[$0] }
            #expect(!times.isEmpty, "no node of wave \(w + 1) activated")
            guard let earliest = times.min(), let latest = times.max() else { continue }
            #expect(latest - earliest == 0, "wave \(w + 1) swapped over \(Double(latest - earliest) / 1e6) ms, not at its barrier")
            #expect(earliest > previousLatest, "wave \(w + 1) activated before wave \(w) did")
            previousLatest = latest
        }
    }

    @Test func onArrivalWavesNeedNoActivation() throws {
        let (engine, outcome) = try engine(Self.yaml(activation: "on_arrival"))
        #expect(outcome.passed, "\(outcome.violations)")
        let rollout = try #require(outcome.rollout)
        #expect(!rollout.twoPhase)
        #expect(rollout.activationsSent == 0)
        #expect(rollout.status == .active || rollout.status == .incomplete, "\(rollout.status) \(rollout.abortReason ?? "")")
        #expect(rollout.waves.allSatisfy { $0.startedAfter != nil })
        #expect(activatedAt(engine, rollout.version).count > outcome.nodes / 2)
    }

    @Test func aCanaryFailureAbortsBeforeTheSecondWaveAndIsPriced() throws {
        let scenario = try SimFixtures.scenario(Self.yaml(price: true))
        let outcome = try ProtocolSimulation.run(scenario: scenario, fleet: SimFleet(scenario: scenario)).outcome
        #expect(outcome.passed, "\(outcome.violations)")
        let cost = try #require(outcome.rollout?.canaryFailure)
        #expect(cost.invariantsHold)
        #expect(cost.abortedAfter != nil)
        let canary = try #require(outcome.rollout?.waves.first).nodes
        #expect(cost.nodesReached == canary)
        #expect(cost.nodesActivated == 0)
        #expect(cost.nodesRefused > 0 && cost.nodesRefused <= canary)
        #expect(cost.nodesSpared == outcome.versions.last!.required - canary)
        #expect(cost.bytesSent > 0 && cost.bytesSent < cost.bytesWithoutWaves / 4, "\(cost.bytesSent) of \(cost.bytesWithoutWaves)")

        // The same failure, looked at from the engine's ground truth: the rollout stopped in wave 1, no node changed
        // version, and the nodes of later waves were never even told of it.
        var quiet = try SimFixtures.scenario(Self.yaml())
        quiet.protocolRun!.drop = 0
        let failing = try ProtocolEngine(
            fleet: SimFleet(scenario: quiet), run: quiet.protocolRun!, chunkSize: quiet.chunkSize, seed: quiet.seed, rollout: quiet.rollout)
        failing.failFirstWave()
        failing.recordTrace = true
        let result = try failing.runAll()
        #expect(result.passed, "\(result.violations)")
        let rollout = try #require(result.rollout)
        #expect(rollout.status == .aborted)
        #expect(rollout.waves[1].startedAfter == nil && rollout.waves[2].startedAfter == nil)
        #expect(rollout.waves[0].failure != nil)
        #expect(activatedAt(failing, rollout.version).isEmpty)
        // Trace lines read "<ns> <node> announcement <version>".
        let told = Set(failing.trace.compactMap { line -> String? in
            let words = line.split { $0 == " " || $0 == "\n" }
            return words.count == 4 && words[2] == "announcement" && words[3] == "\(rollout.version)" ? String(words[1]) : nil
        })
        let first = Set(failing.waves.targets[0].nodes.map(\.rawValue))
        #expect(!told.isEmpty, "the trace shows no announcement: the check below would prove nothing")
        #expect(told.isSubset(of: first), "nodes outside wave 1 were told of \(rollout.version): \(told.subtracting(first).sorted())")
    }

    @Test func aFailedGateAfterActivationsRollsTheReachedNodesBack() throws {
        var scenario = try SimFixtures.scenario(Self.yaml(onFailure: "rollback"))
        scenario.protocolRun!.relayFailures = 0  // v1 active everywhere: the rollback has a version to go back to
        scenario.protocolRun!.drop = 0
        let fleet = try SimFleet(scenario: scenario)
        let engine = try ProtocolEngine(
            fleet: fleet, run: scenario.protocolRun!, chunkSize: scenario.chunkSize, seed: scenario.seed, rollout: scenario.rollout)
        // One node of the second wave cannot compile v2: the wave's gate (no refusals) fails after the canaries swapped.
        let second = try #require(engine.waves.targets.dropFirst().first)
        let bad = try #require(engine.nodeIndex[second.nodes[0]])
        engine.waves.failing = [bad]
        let outcome = try engine.runAll()
        #expect(outcome.passed, "\(outcome.violations)")
        let rollout = try #require(outcome.rollout)
        #expect(rollout.status == .aborted)
        #expect(rollout.waves[1].failure?.contains("refus") == true, "\(rollout.waves[1].failure ?? "no failure")")
        #expect(rollout.waves[2].startedAfter == nil)
        let rollback = try #require(engine.waves.rollback)
        #expect(rollback > rollout.version)
        let rolledBack = try #require(outcome.versions.first { $0.version == rollback })
        #expect(rolledBack.status == .active, "\(rolledBack.status): \(rolledBack.notSwitched)")

        // Every node that swapped to v2 ends on the rollback; nodes of the last wave never saw v2.
        let at = activatedAt(engine, rollout.version)
        #expect(!at.isEmpty)
        for i in at.keys { #expect(engine.activations[i].last?.version == rollback, "\(engine.ids[i]) stays on \(engine.activations[i].last!.version)") }
        for id in engine.waves.targets[2].nodes {
            let i = try #require(engine.nodeIndex[id])
            #expect(at[i] == nil, "\(id) of the last wave activated \(rollout.version)")
        }
    }

    /// Deliberately broken: every node is seeded and told at once while the deployment machine believes only the
    /// first wave was. The checker compares against what the engine saw, so the early activations surface.
    @Test func ignoringTheWavesIsCaught() throws {
        let honest = try engine(Self.yaml(activation: "on_arrival")).1
        #expect(honest.passed, "\(honest.violations)")
        var scenario = try SimFixtures.scenario(Self.yaml(activation: "on_arrival"))
        scenario.protocolRun!.drop = 0
        let fleet = try SimFleet(scenario: scenario)
        let broken = try ProtocolSimulation.run(scenario: scenario, fleet: fleet, sabotage: .init(ignoreWaves: true)).outcome
        let early = broken.violations.filter { $0.invariant == .noActivationBeforeItsWave }
        #expect(!early.isEmpty, "\(broken.violations)")
        #expect(early.allSatisfy { $0.detail.contains("of wave 2") || $0.detail.contains("of wave 3") }, "\(early)")
    }

    @Test func rolloutSectionErrorsNameFileLineAndField() throws {
        func error(_ yaml: String) -> SimError? {
            do {
                _ = try Scenario.read(yaml: yaml, file: "scenarios/bad.yaml")
                return nil
            } catch { return error }
        }
        let good = Self.yaml()
        #expect(error(good) == nil)
        let lines = good.split(separator: "\n", omittingEmptySubsequences: false)
        func line(of text: String) -> Int { (lines.firstIndex { $0.contains(text) } ?? -1) + 1 }

        let e1 = try #require(error(good.replacingOccurrences(of: "activation: two_phase", with: "activation: soon")))
        #expect(e1.file == "scenarios/bad.yaml" && e1.field == "rollout.activation" && e1.line == line(of: "activation: two_phase"), "\(e1)")
        let e2 = try #require(error(good.replacingOccurrences(of: "select: {rack_percent: 50}", with: "selct: {rack_percent: 50}")))
        #expect(e2.code == .unknownField && e2.line == line(of: "name: half"), "\(e2)")
        #expect(e2.field.hasPrefix("rollout.policy.waves[1]"), "\(e2)")
        let e3 = try #require(error(good.replacingOccurrences(of: "bake: 2s", with: "bake: later")))
        #expect(e3.field == "rollout.policy.waves[0].bake" && e3.line == line(of: "name: canary"), "\(e3)")
        // Waves that name what the topology does not have are caught when the engine resolves them.
        var unknown = try SimFixtures.scenario(good.replacingOccurrences(of: "select: {rack_percent: 10}", with: "select: {roles: [nowhere]}"))
        unknown.protocolRun!.deployments = 2
        #expect(throws: SimError.self) { try ProtocolEngine(fleet: SimFleet(scenario: unknown), run: unknown.protocolRun!, chunkSize: unknown.chunkSize, seed: 1, rollout: unknown.rollout) }
        // A rollout without the protocol engine has nothing to run on.
        let noProtocol = good.components(separatedBy: "protocol:")[0] + "rollout:" + good.components(separatedBy: "rollout:")[1]
        let e4 = try #require(error(noProtocol))
        #expect(e4.field == "rollout" && e4.code == .missingField, "\(e4)")
    }

    @Test func theShippedRolloutScenarioReads() throws {
        let path = ProcessRunner.repositoryRoot() + "/Sim/scenarios/rollout/canary-1k.yaml"
        let scenario = try Scenario.load(path: path)
        let rollout = try #require(scenario.rollout)
        #expect(rollout.twoPhase && rollout.priceCanaryFailure)
        #expect(rollout.policy.waves.map(\.name) == ["canary", "tenth", "rest"])
        #expect(rollout.policy.onFailure == .rollback)
        #expect((scenario.protocolRun?.relayFailures ?? 0) > 0, "the waves run with failures")
    }
}
