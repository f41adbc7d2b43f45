import ArgumentParser
import BenCore

extension Benctl {
    /// `benctl rollout pause|resume|abort V`: holding, continuing or stopping a rollout in waves.
    struct Rollout: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause, resume or abort a rollout in waves (or a two-phase one).",
            subcommands: [Pause.self, Resume.self, Abort.self])

        struct Pause: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Start no further wave (and send no automatic activation) until resumed; the wave in progress finishes.")
            @OptionGroup var target: RolloutTarget
            func run() async throws { try await target.send("rollout.pause", done: "paused") }
        }

        struct Resume: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Let a paused rollout go on: the next wave starts once the current one has passed.")
            @OptionGroup var target: RolloutTarget
            func run() async throws { try await target.send("rollout.resume", done: "resumed") }
        }

        struct Abort: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Stop the rollout: no further wave starts; nodes already on the version stay, or are rolled back if its policy says so.")
            @OptionGroup var target: RolloutTarget
            func run() async throws { try await target.send("rollout.abort", done: "aborted") }
        }
    }
}

/// The version a `rollout` verb acts on, and where the ledger is.
struct RolloutTarget: ParsableArguments {
    @Argument(help: "The version being rolled out.")
    var version: String

    @OptionGroup var ledger: LedgerOptions
    @OptionGroup var output: OutputOptions

    func send(_ verb: String, done: String) async throws {
        let v = try VersionArgument.parse(version)
        let answer = try await ledger.withClient { try await $0.call(verb, args: ["version": .int(Int64(v.rawValue))]) }
        if output.json {
            print(try CanonicalJSON.string(answer))
        } else {
            let step = answer["step"]?.stringValue ?? "-"
            print("v\(v.rawValue) \(done): \(answer["status"]?.stringValue ?? "?")\(step == "-" ? "" : ", \(step)")\(answer["paused"] == .bool(true) ? " (paused)" : "")")
        }
    }
}
