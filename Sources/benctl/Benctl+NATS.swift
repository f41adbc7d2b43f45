import ArgumentParser
import BenCore
import BenCrypto
import BenNATS
import BenTopology
import Glibc

extension Benctl {
    /// `benctl nats …`: the NATS side of a fleet.
    struct NATSCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "nats",
            abstract: "The fleet's NATS authorization: who may publish and subscribe to what.",
            subcommands: [Config.self])
    }
}

extension Benctl.NATSCommand {
    /// `benctl nats config --topology FILE --out DIR`: nats-server's authorization for the fleet, and one nkey
    /// credentials file per identity (the ledger, every node, every operator).
    struct Config: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write nats-server's authorization for a fleet, and one credentials file per node, the ledger and each operator.",
            discussion: """
                DIR/nats-server.conf holds the fleet's NATS account and one nkey user per identity, with its permissions (public \
                keys only). DIR/ledger.creds, DIR/nodes/<id>.creds and DIR/operators/<name>.creds (mode 0600) are each \
                identity's secret: give each only to its process (--nats-creds, BEN_NATS_CREDS). Run it again when the \
                topology's nodes change: credentials already in DIR are kept, new nodes get new ones, and the configuration \
                lists exactly the topology's nodes. Then reload nats-server (nats-server --signal reload). See docs/nats.md.
                """)

        @Option(name: .long, help: "The fleet's topology file: its fleet and its nodes.")
        var topology: String

        @Option(name: .long, help: "The folder to write into (created if missing; existing credentials in it are kept).")
        var out: String

        @Option(name: .long, parsing: .upToNextOption, help: "Operator identities to issue credentials for (default: operator).")
        var `operator`: [String] = ["operator"]

        @OptionGroup var output: OutputOptions

        func run() throws {
            let topology = try TopologyFiles.load(topology)
            let fleet = topology.fleet
            for name in `operator` where NodeID(name) == nil {
                throw CommandFailure("--operator \(name): an operator's name is \(NodeID.rule)")
            }
            for folder in [out, out + "/nodes", out + "/operators"] { try Self.makeFolder(folder) }
            var issued = Issued()
            let ledger = try issued.credentials(at: out + "/ledger.creds", about: "the ledger of fleet \(fleet)")
            let nodes = try topology.nodes.map { node in
                (node.id, try issued.credentials(at: "\(out)/nodes/\(node.id).creds", about: "node \(node.id) of fleet \(fleet)"))
            }
            let operators = try `operator`.map { name in
                (name, try issued.credentials(at: "\(out)/operators/\(name).creds", about: "operator \(name) of fleet \(fleet)"))
            }
            let authorization = NATSAuthorization(fleet: fleet, ledger: ledger, nodes: nodes, operators: operators)
            let header = [
                "Ben's NATS authorization for fleet \(fleet), written by `benctl nats config` from \(self.topology).",
                "One account for the fleet, one nkey user per identity (public keys only). Regenerate it when the topology's",
                "nodes change, then reload the server (nats-server --signal reload). Run a server with it:",
                "  nats-server -c nats-server.conf -js -sd /var/lib/nats",
                "or include it from your own configuration. See docs/nats.md.",
            ]
            try TextFile.writeAtomically(authorization.serverConfiguration(header: header), to: out + "/nats-server.conf", mode: 0o644)
            let listed = Set(topology.nodes.map { "\($0.id).creds" })
            let stale = Self.files(in: out + "/nodes").filter { $0.hasSuffix(".creds") && !listed.contains($0) }.sorted()
            if output.json {
                print(try CanonicalJSON.string([
                    "configuration": .string(out + "/nats-server.conf"), "fleet": .string(fleet.rawValue),
                    "account": .string(NATSAuthorization.account(fleet)), "new": .int(Int64(issued.new)), "kept": .int(Int64(issued.kept)),
                    "stale": .array(stale.map { .string(out + "/nodes/" + $0) }),
                ]))
                return
            }
            print("wrote \(out)/nats-server.conf: account \(NATSAuthorization.account(fleet)), the ledger, \(nodes.count) node\(nodes.count == 1 ? "" : "s"), \(operators.count) operator\(operators.count == 1 ? "" : "s")")
            print("credentials (mode 0600): \(issued.new) new, \(issued.kept) kept: \(out)/ledger.creds, \(out)/nodes/<id>.creds, \(out)/operators/<name>.creds")
            for file in stale {
                print("\(out)/nodes/\(file): no such node in the topology; left out of the configuration (delete the file)")
            }
        }

        /// Credentials issued or found in the folder.
        struct Issued {
            var new = 0
            var kept = 0

            /// The public nkey of the credentials at `path`: the file's if it is there, else a new key's, written there.
            mutating func credentials(at path: String, about: String) throws -> String {
                if TextFile.exists(path) {
                    do {
                        guard case .nkey(let publicKey) = try NATSCredentials.read(path) else {
                            throw CommandFailure("\(path): holds a JWT, not Ben's nkey credentials; move it away to issue new ones")
                        }
                        kept += 1
                        return publicKey
                    } catch let error as NATSError {
                        throw CommandFailure("\(error.detail.isEmpty ? error.description : "\(path): \(error.detail)"); move it away to issue new ones")
                    }
                }
                let key = SigningKey.generate()
                let publicKey = NKey.publicKey(key.publicKey)
                try TextFile.writeAtomically(
                    NATSCredentials.fileText(about: about, publicKey: publicKey, seed: NKey.seed(key)), to: path, mode: 0o600)
                new += 1
                return publicKey
            }
        }

        static func makeFolder(_ path: String) throws {
            if TextFile.isDirectory(path) { return }
            guard mkdir(path, 0o755) == 0 else { throw CommandFailure("\(path): cannot create: \(String(cString: strerror(errno)))") }
        }

        static func files(in folder: String) -> [String] {
            guard let dir = opendir(folder) else { return [] }
            defer { closedir(dir) }
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { names.append(name) }
            }
            return names
        }
    }
}
