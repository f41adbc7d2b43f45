import ArgumentParser
import BenCore

extension Benctl {
    /// `benctl rollback --to V`: a rollback is a new version carrying V's content (agents never go backwards).
    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deploy a new version that carries an earlier version's content.",
            discussion: "Agents refuse any version not newer than the one they run, so rolling back makes a new version.")

        @Option(name: .long, help: "The version whose content to deploy again.")
        var to: String

        @OptionGroup var rollout: RolloutOptions

        @OptionGroup var ledger: LedgerOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let old = try VersionArgument.parse(to)
            var args = rollout.args
            args["to"] = .int(Int64(old.rawValue))
            let code = try await ledger.withClient { client in
                let answer = try await client.call("rollback", args: .object(args))
                let version = Version(UInt64(answer["version"]?.intValue ?? 0))
                if !output.json { print("rolling back to \(old)'s content as \(version) (\(counted(answer["targets"]?.intValue ?? 0, "node")))") }
                return try await rollout.follow(version, answer: answer, client: client, output: output) ?? 0
            }
            if code != 0 { throw ExitCode(code) }
        }
    }
}
