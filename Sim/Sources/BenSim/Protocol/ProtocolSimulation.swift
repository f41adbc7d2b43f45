/// Runs a scenario's protocol section on the protocol engine.
public enum ProtocolSimulation {
    /// The most nodes the protocol engine takes (every node is a real agent machine with a real key).
    public static let maxNodes = 20_000

    /// Runs the scenario's `protocol` run over its fleet with `seed` (the scenario's when nil).
    ///
    /// - Parameter trace: keep every trace line in `ProtocolEngine.trace` (for `replay --trace`).
    /// - Throws: `SimError` when the scenario has no protocol section or the fleet is too large.
    public static func run(
        scenario: Scenario, fleet: SimFleet, seed: UInt64? = nil, sabotage: ProtocolEngine.Sabotage = .init(), keepTrace: Bool = false
    ) throws(SimError) -> (outcome: ProtocolOutcome, trace: [String]) {
        guard let run = scenario.protocolRun else {
            throw SimError(.missingField, file: scenario.file, field: "protocol", problem: "this scenario has no protocol run", fix: "add a `protocol:` section")
        }
        guard fleet.nodeCount <= maxNodes else {
            throw SimError(
                .tooLarge, file: scenario.file, field: "protocol",
                problem: "the protocol engine runs every node's real machine; \(fleet.nodeCount) nodes is more than \(maxNodes)",
                fix: "use a smaller fleet for the protocol run, or remove the `protocol:` section")
        }
        let clock = ContinuousClock()
        let start = clock.now
        let engine = try ProtocolEngine(
            fleet: fleet, run: run, chunkSize: scenario.chunkSize, seed: seed ?? scenario.seed, sabotage: sabotage, rollout: scenario.rollout)
        engine.recordTrace = keepTrace
        var outcome = try engine.runAll()
        if let rollout = scenario.rollout, rollout.priceCanaryFailure, !engine.waves.targets.isEmpty {
            // The same run with every node of the first wave failing to compile: what a bad canary costs.
            let canary = try ProtocolEngine(
                fleet: fleet, run: run, chunkSize: scenario.chunkSize, seed: seed ?? scenario.seed, sabotage: sabotage, rollout: rollout)
            canary.failFirstWave()
            let canaryOutcome = try canary.runAll()
            outcome.rollout?.canaryFailure = canary.canaryFailureCost(outcome: canaryOutcome)
        }
        let elapsed = clock.now - start
        outcome.wallSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (outcome, engine.trace)
    }
}
