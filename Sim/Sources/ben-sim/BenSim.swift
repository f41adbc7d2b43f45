import ArgumentParser
import BenCore
import BenSim
import Glibc

/// `ben-sim`: prices fan-out strategies on simulated fleets (flow engine) and runs the real protocol machines
/// under faults (protocol engine). Argument parsing and wiring only; everything else is in BenSim.
@main
struct BenSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ben-sim",
        abstract: "Simulate Ben deployments: compare fan-out strategies at fleet scale, and run the real state machines under faults.",
        version: BenRelease.current,
        subcommands: [Run.self, Replay.self, Gossip.self])
}

/// Writes to standard error (file descriptor 2).
func standardError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// Progress on standard error, one line rewritten in place on a terminal.
func progress(_ line: String) {
    standardError((isatty(2) != 0 ? "\r\u{1B}[K" : "") + line + (isatty(2) != 0 ? "" : "\n"))
}

func finishProgress() {
    if isatty(2) != 0 { standardError("\n") }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a scenario: every strategy on the flow engine, then the protocol engine if the scenario asks.")

    @Argument(help: "The scenario file (Sim/scenarios/*.yaml; docs/sim.md describes the format).")
    var scenario: String

    @Option(help: "Write the self-contained HTML report (SVG charts) here.")
    var report: String?

    @Option(help: "Write the figures as JSON here.")
    var json: String?

    @Option(help: "Write the figures as CSV here.")
    var csv: String?

    @Option(help: "Run only these strategies (comma-separated), overriding the scenario's list.")
    var strategies: String?

    @Flag(help: "Skip the protocol engine even if the scenario has a protocol section.")
    var noProtocol = false

    @Option(help: "Override the scenario's seed.")
    var seed: UInt64?

    @Flag(help: "Include wall times and speeds in the JSON (they differ from run to run).")
    var wallTimes = false

    func run() throws {
        do {
            var s = try Scenario.load(path: scenario)
            if let seed { s.seed = seed }
            if let strategies {
                var list: [Scenario.Strategy] = []
                for name in strategies.split(separator: ",") {
                    guard let strategy = Scenario.Strategy(rawValue: String(name)) else {
                        throw ValidationError("--strategies: unknown strategy '\(name)'; use \(Scenario.Strategy.spelling)")
                    }
                    list.append(strategy)
                }
                s.strategies = list
            }
            for output in [report, json, csv].compactMap({ $0 }) { try prepareOutput(output) }
            progress("\(s.name): planning the fleet")
            let flow = try FlowSimulation(scenario: s)
            progress("\(s.name): \(flow.fleet.nodeCount) nodes, \(s.chunkCount) chunks, k = \(flow.fleet.planned.stripeCount)")
            let figures = try flow.runAll { progress("\(s.name): \($0)") }
            var protocolOutcome: ProtocolOutcome?
            if s.protocolRun != nil && !noProtocol {
                progress("\(s.name): protocol engine, seed \(s.seed)")
                protocolOutcome = try ProtocolSimulation.run(scenario: s, fleet: flow.fleet).outcome
            }
            finishProgress()
            let result = SimReport(flow: figures, protocolOutcome: protocolOutcome)
            print(result.table)
            if let report { try writeTextFile(report, result.html) }
            if let json { try writeTextFile(json, result.jsonText(includeWallTimes: wallTimes) + "\n") }
            if let csv { try writeTextFile(csv, result.csv) }
            if let p = protocolOutcome, !p.passed {
                standardError("invariants violated with seed \(p.seed); replay with: ben-sim replay \(p.seed) --scenario \(scenario)\n")
                throw ExitCode(3)
            }
        } catch let error as SimError {
            finishProgress()
            standardError("ben-sim: \(error)\n")
            throw ExitCode(1)
        }
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the protocol engine again with a seed (a failing seed replays exactly) and check the invariants.")

    @Argument(help: "The seed to replay (printed by a failing run).")
    var seed: UInt64

    @Option(help: "The scenario whose protocol run to replay.")
    var scenario: String = "Sim/scenarios/dc-1k.yaml"

    @Option(help: "Write every trace line here.")
    var trace: String?

    func run() throws {
        do {
            let s = try Scenario.load(path: scenario)
            if let trace { try prepareOutput(trace) }
            let fleet = try SimFleet(scenario: s)
            let (outcome, lines) = try ProtocolSimulation.run(scenario: s, fleet: fleet, seed: seed, keepTrace: trace != nil)
            if let trace { try writeTextFile(trace, lines.joined()) }
            print(outcome.table)
            if !outcome.passed { throw ExitCode(3) }
        } catch let error as SimError {
            standardError("ben-sim: \(error)\n")
            throw ExitCode(1)
        }
    }
}
