import ArgumentParser
import BenCore

extension Benctl {
    /// `benctl log`: the ledger's audit log (every topology, stage, deploy, transition, ack summary, rollback).
    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the ledger's hash-chained audit log; --verify checks the chain, --follow waits for more.")

        @Flag(name: .long, help: "Check the hash chain; names the first entry that was altered (exit 1 if any).")
        var verify = false

        @Flag(name: .long, help: "Keep printing new entries as they come.")
        var follow = false

        @Option(name: .long, help: "Show only the last N entries.")
        var tail: Int?

        @OptionGroup var ledger: LedgerOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await ledger.withClient { client in
                if verify {
                    let answer = try await client.call("log.verify")
                    try output.show(answer) {
                        if answer["ok"]?.boolValue == true {
                            print("audit log verified: \(counted(answer["entries"]?.intValue ?? 0, "entry", "entries")), chain intact")
                        } else {
                            let bad = answer["first_bad"]
                            print("audit log BROKEN at entry \(bad?["seq"]?.intValue ?? 0): \(bad?["problem"]?.stringValue ?? "?")")
                        }
                    }
                    if answer["ok"]?.boolValue != true { throw ExitCode(1) }
                    return
                }
                var after: Int64 = 0
                var first = true
                repeat {
                    let answer = try await client.call("log", args: ["after": .int(after)])
                    var entries = answer["entries"]?.arrayValue ?? []
                    if first, let tail, entries.count > tail { entries = Array(entries.suffix(tail)) }
                    first = false
                    for entry in entries {
                        after = max(after, entry["seq"]?.intValue ?? after)
                        try output.show(entry) {
                            let detail = (try? CanonicalJSON.string(entry["detail"] ?? .null)) ?? ""
                            print("\(entry["seq"]?.intValue ?? 0)  \(entry["at"]?.stringValue ?? "")  \(pad(entry["kind"]?.stringValue ?? "", 11))\(pad(entry["operator"]?.stringValue ?? "", 17))\(detail)")
                        }
                    }
                    if follow { try await Task.sleep(for: .seconds(1)) }
                } while follow
            }
        }
    }
}
