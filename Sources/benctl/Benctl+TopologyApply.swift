import ArgumentParser
import BenCore

extension Benctl.TopologyCommand {
    /// `benctl topology apply FILE`: the ledger plans every later deployment from this topology.
    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a topology file to the ledger; every later deployment is planned from it. Checked first.")

        @Argument(help: "The topology file (YAML).")
        var file: String

        @OptionGroup var ledger: LedgerOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            _ = try TopologyFiles.load(file)
            let yaml = try TextFile.readBytes(file)
            let answer = try await ledger.withClient { try await $0.call("topology.apply", args: ["file": .string(file)], body: yaml) }
            try output.show(answer) {
                print("applied \(file): \(counted(answer["nodes"]?.intValue ?? 0, "node")), topology key \(answer["key"]?.stringValue ?? "?")")
            }
        }
    }
}
