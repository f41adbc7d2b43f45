import ArgumentParser
import BenCore

extension Benctl {
    /// `benctl versions`: every version the ledger holds and where it stands.
    struct Versions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the fleet's versions and where each stands.")

        @OptionGroup var ledger: LedgerOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let answer = try await ledger.withClient { try await $0.call("versions") }
            try output.show(answer) {
                let rows = answer["versions"]?.arrayValue ?? []
                guard !rows.isEmpty else {
                    print("no versions yet; `benctl stage DIR` stages one")
                    return
                }
                print(pad("VERSION", 8) + pad("STATUS", 12) + pad("SIZE", 11) + pad("MANIFEST", 18) + "LABEL")
                for row in rows {
                    let size = ByteCount(row["size"]?.intValue ?? 0).description
                    print(
                        pad("v\(row["version"]?.intValue ?? 0)", 8) + pad(row["status"]?.stringValue ?? "", 12) + pad(size, 11)
                            + pad(String((row["manifest"]?.stringValue ?? "").prefix(16)), 18) + (row["label"]?.stringValue ?? ""))
                }
            }
        }
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}
