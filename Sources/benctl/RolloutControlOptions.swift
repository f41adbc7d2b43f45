import ArgumentParser
import BenCore
import BenTopology

/// `benctl deploy`'s rollout control (issue 17): two-phase activation, a rollout policy (a file, or `--wave` flags),
/// and `--watch`.
struct RolloutControlOptions: ParsableArguments {
    @Flag(name: .long, help: "Two-phase, by hand: every target verifies and compiles the version and sends a signed prepared ack, and keeps its old version until `benctl activate V`.")
    var prepare = false

    @Flag(name: .long, help: "Two-phase: prepare everywhere, then the ledger sends a signed activation with a barrier time once every target (or every node of a wave) has prepared; all swap together.")
    var twoPhase = false

    @Option(name: .long, help: "A rollout policy file (YAML, format ben/rollout-policy/v1): waves, bake times, gates, on_failure.")
    var policy: String?

    @Option(name: .long, help: ArgumentHelp(
        "One wave, in order (repeat for each): comma-separated field=value, lists joined with +; e.g. name=canary,roles=detector,bake=5m,max-refusals=0.",
        discussion: "Fields: name, roles, locations, nodes, rack-percent, bake, max-refusals, max-missing, max-alerts. A wave with no selector takes every target left."))
    var wave: [String] = []

    @Option(name: .long, help: "When a gate fails: stay (nodes on the version keep it) or rollback (they get the previous version's content as a new version).")
    var onFailure: String?

    @Flag(name: .long, help: "Follow the rollout: waves, progress by location and missing nodes, redrawn in place on a terminal; one line per change otherwise; one JSON object per change with --json.")
    var watch = false

    /// The policy the flags or the file give, or nil.
    func readPolicy() throws -> RolloutPolicy? {
        if let policy {
            guard wave.isEmpty else { throw CommandFailure("--policy and --wave exclude each other: write the waves in the file, or as flags") }
            let reading = RolloutPolicy.read(yaml: try TextFile.read(policy), file: policy)
            if !reading.errors.isEmpty {
                throw CommandFailure(reading.errors.map(\.description).joined(separator: "\n") + "\nnothing was done")
            }
            var read = reading.policy!
            if let onFailure {
                guard let value = RolloutPolicy.OnFailure(rawValue: onFailure) else {
                    throw CommandFailure("--on-failure: '\(onFailure)' is not stay or rollback; write --on-failure rollback")
                }
                read.onFailure = value
            }
            return read
        }
        guard !wave.isEmpty else {
            if onFailure != nil { throw CommandFailure("--on-failure applies to a rollout in waves: give --wave or --policy too") }
            return nil
        }
        do {
            return try RolloutPolicy.fromFlags(waves: wave, onFailure: onFailure)
        } catch {
            throw CommandFailure(error.description)
        }
    }

    /// What the deploy request carries for these flags.
    func args() throws -> [String: JSONValue] {
        if prepare && twoPhase { throw CommandFailure("--prepare (activate by hand) and --two-phase (activate once prepared) exclude each other") }
        var out: [String: JSONValue] = [:]
        if prepare { out["prepare"] = true }
        if twoPhase { out["two_phase"] = true }
        if let policy = try readPolicy() { out["policy"] = policy.json }
        return out
    }

    var isRollout: Bool { prepare || twoPhase || policy != nil || !wave.isEmpty }
}

extension RolloutControlOptions {
    /// `deploy`'s line about the rollout it started: "  two-phase (automatic); waves: canary 2 nodes (bake 5.0 s), rest 16".
    static func describe(_ answer: JSONValue) -> String {
        let activation = answer["activation"]?.stringValue ?? "on_arrival"
        let waves = (answer["waves"]?.arrayValue ?? []).map { w -> String in
            let bake = w["bake_ms"]?.intValue ?? 0
            return "\(w["name"]?.stringValue ?? "?") \(counted(Int(w["nodes"]?.intValue ?? 0), "node"))" + (bake > 0 ? " (bake \(Duration.milliseconds(bake).secondsText))" : "")
        }
        var line = "  "
        if activation != "on_arrival" { line += "two-phase (\(activation == "manual" ? "activate with `benctl activate`" : "activated once prepared")); " }
        line += waves.count > 1 ? "waves: \(waves.joined(separator: ", ")); on a failed gate: \(answer["on_failure"]?.stringValue ?? "stay")" : "one wave"
        return line
    }
}
