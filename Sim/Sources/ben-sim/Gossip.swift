import ArgumentParser
import BenSim

/// `ben-sim gossip`: runs a gossip scenario (`ben/sim-gossip/v1`) on the gossip engine, prints the figures and the
/// verdict, and exits 3 when an invariant is broken.
struct Gossip: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the real membership and broadcast machines over a simulated network with drop, delay, partitions, crashes, pauses and forgeries.")

    @Argument(help: "The gossip scenario file (Sim/scenarios/gossip/*.yaml; docs/gossip.md describes the format).")
    var scenario: String

    @Option(help: "Override the scenario's seed.")
    var seed: UInt64?

    @Option(help: "Override the node count of a generated topology (for figures against N).")
    var nodes: Int?

    @Option(help: "Write the figures as JSON here.")
    var json: String?

    @Flag(help: "Include the wall time in the JSON (it differs from run to run).")
    var wallTimes = false

    func run() throws {
        do {
            var s = try GossipScenario.load(path: scenario)
            if let nodes {
                guard case .generated(var p) = s.fleet else { throw ValidationError("--nodes needs a scenario whose topology is generated") }
                guard nodes >= 2 && nodes <= 1_000_000 else { throw ValidationError("--nodes: between 2 and 1000000") }
                p.nodes = nodes
                s.fleet = .generated(p)
            }
            if let json { try prepareOutput(json) }
            progress("\(s.name): gossip engine, seed \(seed ?? s.seed)")
            let outcome = try GossipSimulation.run(scenario: s, seed: seed)
            finishProgress()
            print(outcome.table, terminator: "")
            if let json { try writeTextFile(json, outcome.jsonText(includeWallTimes: wallTimes) + "\n") }
            if !outcome.passed {
                standardError("invariants violated with seed \(outcome.seed); run again with: ben-sim gossip \(scenario) --seed \(outcome.seed)\n")
                throw ExitCode(3)
            }
        } catch let error as SimError {
            finishProgress()
            standardError("ben-sim: \(error)\n")
            throw ExitCode(1)
        }
    }
}
