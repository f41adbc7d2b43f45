import ArgumentParser
import BenCore

extension Benctl {
    /// `benctl revoke NODE --reason WHY`: the ledger signs a revocation of the node's key, keeps it, writes it to the
    /// audit log, and sends it on NATS and by gossip; every node then refuses links, gossip and acks signed with it.
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a node's key: every node and the ledger refuse its links, gossip and acks from now on.",
            discussion: """
                The ledger signs the revocation (ben/revoke/v1), keeps it and writes it to the audit log, and sends it on \
                NATS and by gossip, so nodes cut off from NATS learn it from their peers. It is never undone: give the node \
                a new key and apply a topology that lists it. Asked again for the same key, the ledger sends the same \
                revocation again.
                """)

        @Argument(help: "The node whose key to revoke.")
        var node: String

        @Option(name: .long, help: "Why (kept in the audit log and sent with the revocation).")
        var reason: String

        @Option(name: .customLong("key-id"), help: "The key's id (16 hex digits), when it is not the one the topology in force lists for the node.")
        var keyID: String?

        @OptionGroup var ledger: LedgerOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            guard NodeID(node) != nil else { throw CommandFailure("'\(node)' is not a node id (\(NodeID.rule))") }
            var args: [String: JSONValue] = ["node": .string(node), "reason": .string(reason)]
            if let keyID { args["keyid"] = .string(keyID) }
            let answer = try await ledger.withClient { try await $0.call("revoke", args: .object(args)) }
            if output.json {
                print(try CanonicalJSON.string(answer))
            } else {
                let when = answer["revoked"]?.stringValue == "already" ? "was revoked already (sent again)" : "revoked"
                print("key \(answer["keyid"]?.stringValue ?? "?") of \(answer["node"]?.stringValue ?? node) \(when) at \(answer["issued_at"]?.stringValue ?? "?")")
            }
        }
    }
}
