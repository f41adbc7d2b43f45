import ArgumentParser
import BenCore

extension Benctl {
    /// `benctl activate V`: the second phase of a two-phase rollout (`deploy V --prepare`).
    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send the ledger's signed activation of a prepared version: every prepared node swaps at the barrier.",
            discussion: """
                The activation carries a barrier time; each prepared node swaps when its own clock reads it and sends its \
                signed active ack. It carries no bundle bytes. Asked again, it re-sends the activation to nodes that \
                prepared and did not swap. Exit codes with --wait: 0 active, 2 incomplete, 1 error.
                """)

        @Argument(help: "The version (as `benctl versions` shows it, with or without the v).")
        var version: String

        @Flag(name: .long, help: "Activate the nodes that have prepared even though some have not (they are named, and keep their old version).")
        var partial = false

        @Option(name: .long, help: "How far ahead the barrier lies, e.g. 500ms or 5s (default: the ledger's, 2s); it must cover delivery to every node.")
        var barrierIn: String?

        @Flag(name: .long, help: "Follow the rollout until it is active or incomplete (exit 0 or 2).")
        var wait = false

        @Flag(name: .long, help: "Follow it with waves, progress by location and missing nodes (see `status --watch`).")
        var watch = false

        @OptionGroup var ledger: LedgerOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let v = try VersionArgument.parse(version)
            var args: [String: JSONValue] = ["version": .int(Int64(v.rawValue)), "partial": .bool(partial)]
            if let barrierIn {
                guard let lead = OperatorDuration.parse(barrierIn), lead <= .seconds(3600) else {
                    throw CommandFailure("--barrier-in: '\(barrierIn)' is not \(OperatorDuration.rule) (at most 1h); write --barrier-in 2s")
                }
                args["lead_ms"] = .int(lead.milliseconds)
            }
            let code = try await ledger.withClient { client in
                let answer = try await client.call("activate", args: .object(args))
                if output.json && !wait && !watch { print(try CanonicalJSON.string(answer)) }
                if !output.json {
                    print("v\(v.rawValue): activation sent; prepared nodes swap at \(answer["barrier"]?.stringValue ?? "?")")
                }
                if watch { return try await RolloutWatch.follow(v, client: client, json: output.json) }
                return wait ? try await Deploy.follow(v, client: client, json: output.json) : Int32(0)
            }
            if code != 0 { throw ExitCode(code) }
        }
    }
}
