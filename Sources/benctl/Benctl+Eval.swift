import ArgumentParser
import BenCore
import BenIntent
import BenStore
import BenTopology

extension Benctl {
    /// `benctl eval --bundle OUT --role ROLE --input FILE.json`: try a bundle on one input before deploying it.
    struct Eval: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a built bundle for one role on one input, and show the result and why.",
            discussion: """
                proxy: the policy decision and the rule that matched. spine: validation against the schema plus the
                spine's policy. data_migrator: the record migrated by contract (--schema, --from, --to). detector:
                the alerts the event raises. Runs exactly the code an agent runs.
                """)

        @Option(name: .long, help: "The bundle folder `benctl build` wrote.")
        var bundle: String?

        @Option(name: .long, help: "Ask a running node instead: its agent evaluates with the version it serves.")
        var node: String?

        @OptionGroup var ledger: LedgerOptions

        @Option(name: .long, help: "The role to run: \(Role.spelling).")
        var role: String

        @Option(name: .long, help: "A JSON file holding the request, record or event; - for standard input.")
        var input: String

        @OptionGroup var migration: MigrationOptions

        @OptionGroup var output: OutputOptions

        @Option(name: .long, help: "With --node: check the node against this topology file instead of the ledger's topology.")
        var topology: String?

        func validate() throws {
            let unknown = Selector.roles([role], field: "--role").unknown
            if !unknown.isEmpty { throw ValidationError(unknown.map(\.description).joined(separator: "; ") + "; roles are \(Role.spelling)") }
            guard (bundle == nil) != (node == nil) else { throw ValidationError("give either --bundle DIR or --node ID") }
        }

        func run() async throws {
            let role = Role(rawValue: role)!
            if let node { return try await ask(node, role: role) }
            let (intent, _) = try loadBundle(role: role, bundle: bundle!)
            let json: JSONValue
            do {
                json = try JSONParser.parse(try TextFile.readBytes(input))
            } catch let error as JSONParseError {
                throw CommandFailure("\(input): not valid JSON: \(error)")
            }
            let report: EvaluationReport
            switch role {
            case .proxy: report = EvaluationReport.decision(intent.proxy.decide(json))
            case .spine:
                report = EvaluationReport.spine(intent.spine.admit(json, schema: try migration.spineSchema()))
            case .dataMigrator:
                let (name, from, to) = try migration.chosen(in: intent)
                report = EvaluationReport.migration(intent.dataMigrator.migrate(json, schema: name, from: from, to: to), schema: name, from: from, to: to)
            case .detector: report = EvaluationReport.detector(intent.detector.inspect(json))
            }
            print(output.json ? try CanonicalJSON.string(report.json) : report.text)
        }

        /// Reads the manifest and the artifacts the role needs, each verified against its key, and compiles them.
        func loadBundle(role: Role, bundle: String) throws -> (CompiledIntent, Key) {
            let keyText = (try? TextFile.read(bundle + "/manifest.key"))?.split(separator: "\n").first.map(String.init) ?? ""
            guard let key = Key(hex: keyText) else {
                throw CommandFailure("\(bundle): no manifest.key; give the folder `benctl build -o` wrote")
            }
            do {
                let store = try ChunkStore(root: bundle)
                guard let manifest = try store.manifest(key) else { throw CommandFailure("\(bundle): manifest \(key.short) is not a manifest") }
                var loaded: [LoadedArtifact] = []
                for entry in manifest.artifacts where entry.needed(by: [role]) {
                    loaded.append(LoadedArtifact(entry: entry, bytes: try store.artifactBytes(entry)))
                }
                return (try CompiledIntent.compile(loaded, roles: [role], label: key.hex), key)
            } catch let error as IntentErrors {
                throw CommandFailure("\(bundle): the bundle does not compile for \(role): \(error)")
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                throw CommandFailure("\(bundle): \(error)")
            }
        }

        /// Sends the input to a node's query endpoint (`ben.<fleet>.node.<id>.query`) and prints its answer.
        func ask(_ nodeText: String, role: Role) async throws {
            guard let nodeID = NodeID(nodeText) else { throw CommandFailure("--node \(nodeText): \(NodeID.rule)") }
            let json: JSONValue
            do {
                json = try JSONParser.parse(try TextFile.readBytes(input))
            } catch let error as JSONParseError {
                throw CommandFailure("\(input): not valid JSON: \(error)")
            }
            var query = migration.args
            query.merge(["role": .string(role.rawValue), "input": json]) { $1 }
            let answer = try await ledger.withClient { client in
                try await checkNode(nodeText, role: role, client: client)
                return try await client.query(node: nodeID, .object(query))
            }
            if let error = answer["error"]?.stringValue { throw CommandFailure("\(nodeID): \(error)") }
            try output.show(answer) {
                print("\(nodeID) serving v\(answer["version"]?.intValue ?? 0):")
                print(answer["text"]?.stringValue ?? "")
            }
        }

        /// `--node` must be a node of the topology (`--topology FILE`, else the ledger's) that runs `--role`; an
        /// unknown id is named with the nearest known one. Without a ledger to ask (it is down) the node itself
        /// answers: an unknown one does not, and a known one refuses a role it does not run.
        func checkNode(_ nodeText: String, role: Role, client: LedgerClient) async throws {
            let fields = SelectorRequest.Fields(roles: "--role", locations: "--locations", nodes: "--node")
            var roles: [String]?
            if let topology {
                let t = try TopologyFiles.load(topology)
                do {
                    let index = try Selector.checked(SelectorRequest(nodes: [nodeText]), in: t, fields: fields).selectedNodes(in: t)
                    roles = index.first.map { t.nodes[$0].roles.roles.map(\.rawValue) }
                } catch {
                    throw CommandFailure(error.description)
                }
            } else {
                let answer: JSONValue
                do {
                    answer = try await client.call(
                        "topology.show",
                        args: ["select": ["nodes": [.string(nodeText)], "fields": ["roles": "--role", "nodes": "--node", "locations": "--locations"]]])
                } catch let failure as CommandFailure where failure.message.hasPrefix("no ledger serves") || failure.message.hasPrefix("no topology") {
                    return
                }
                roles = answer["selected_nodes"]?.arrayValue?.first?["roles"]?.arrayValue?.compactMap(\.stringValue)
            }
            if let roles, !roles.contains(role.rawValue) {
                throw CommandFailure("--role \(role): \(nodeText) runs \(roles.joined(separator: ", ")), not \(role); nothing was evaluated")
            }
        }
    }
}

/// `--schema`, `--from` and `--to`: the schema a spine validates against, or which migration a data migrator runs.
struct MigrationOptions: ParsableArguments {
    @Option(name: .long, help: "spine: the schema to validate against (name@version); data_migrator: the schema name.")
    var schema: String?

    @Option(name: .long, help: "data_migrator: the version the record is in.")
    var from: Int?

    @Option(name: .long, help: "data_migrator: the version to migrate to.")
    var to: Int?

    /// The options given, as a node query's arguments, so that the node makes the same choice.
    var args: [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        if let schema { out["schema"] = .string(schema) }
        if let from { out["from"] = .int(Int64(from)) }
        if let to { out["to"] = .int(Int64(to)) }
        return out
    }

    /// `--schema` as the spine reads it (name@version); nil when it is not given.
    func spineSchema() throws -> SchemaReference? {
        guard let schema else { return nil }
        let parts = schema.split(separator: "@")
        guard parts.count == 2, let v = Int(parts[1]) else {
            throw CommandFailure("--schema \(schema): expected name@version for the spine, such as order@2")
        }
        return SchemaReference(name: String(parts[0]), version: v)
    }

    /// The migration to run: the three options when all are given, else the one contract of the bundle that they
    /// narrow to.
    func chosen(in intent: CompiledIntent) throws -> (schema: String, from: Int, to: Int) {
        if let schema, let from, let to { return (schema, from, to) }
        let candidates = intent.contracts.filter { c in
            (schema == nil || c.schema == schema) && (from == nil || c.from == from) && (to == nil || c.to == to)
        }
        guard candidates.count == 1, let c = candidates.first else {
            let all = intent.contracts.map { "\($0.schema) \($0.from)→\($0.to)" }.joined(separator: ", ")
            throw CommandFailure("say which migration with --schema, --from and --to; the bundle's contracts: \(all.isEmpty ? "none" : all)")
        }
        return (c.schema, from ?? c.from, to ?? c.to)
    }
}
