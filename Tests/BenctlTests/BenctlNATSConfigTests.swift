import BenCore
import BenTestKit
import Foundation
import Testing

/// `benctl nats config` (issue 15, item 3): nats-server's authorization for a fleet and one credentials file per
/// identity, written from the topology, kept across runs. That the server enforces it is NATSAuthorizationTests'
/// (BenMeshTests) and AuthorizationTests' (BenNATSTests) business; every LocalFleet runs what this writes.
@Suite struct BenctlNATSConfigTests {
    let benctl = ProcessRunner.product("benctl")
    let root = ProcessRunner.repositoryRoot()

    func run(_ arguments: [String]) async throws -> ProcessRunner.Outcome {
        try await ProcessRunner.run(benctl, ["nats", "config"] + arguments, environment: ["BEN_CONFIG_DIR": "/nonexistent/ben-config"])
    }

    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? NSNumber)?.intValue ?? -1
    }

    @Test func itWritesTheAuthorizationAndOneSecretFilePerIdentity() async throws {
        let folder = try TemporaryDirectory(prefix: "ben-nats-config")
        let out = folder.file("nats")
        let first = try await run(["--topology", root + "/topology/local.yaml", "--out", out])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("wrote \(out)/nats-server.conf: account BEN_local, the ledger, 18 nodes, 1 operator\n"), "\(first.stdout)")
        #expect(first.stdout.contains("credentials (mode 0600): 20 new, 0 kept"), "\(first.stdout)")
        let configuration = try String(contentsOfFile: out + "/nats-server.conf", encoding: .utf8)
        #expect(Self.mode(out + "/nats-server.conf") == 0o644)
        #expect(configuration.contains("  \"BEN_local\": {\n    jetstream: enabled\n"))
        #expect(configuration.components(separatedBy: "      # node ").count == 19)
        #expect(configuration.contains("      # the ledger\n") && configuration.contains("      # operator operator\n"))
        #expect(!configuration.contains("\"SU"), "no seed in the server's configuration")
        for path in ["ledger.creds", "operators/operator.creds", "nodes/spine-1.creds", "nodes/detector-7.creds"] {
            #expect(Self.mode(out + "/" + path) == 0o600, "\(path)")
            let text = try String(contentsOfFile: out + "/" + path, encoding: .utf8)
            let publicKey = try #require(text.split(separator: "\n").first { $0.hasPrefix("# public nkey: U") }).dropFirst(15)
            #expect(configuration.contains("nkey: \"\(publicKey)\""), "\(path) is a user of the configuration")
        }
        // proxy-1 may publish its ack and heartbeat and hear its own queries, activations and wave announcements; nothing
        // about announcements but hearing them.
        let proxy = try #require(configuration.components(separatedBy: "      # node proxy-1\n").last?.components(separatedBy: "      # ").first)
        #expect(proxy.contains(#"publish: { allow: ["ben.local.ack", "ben.local.heartbeat", "$JS.API.STREAM.INFO.BEN_local_ANNOUNCE""#))
        #expect(
            proxy.contains(
                #"subscribe: { allow: ["ben.local.announce", "ben.local.activate", "ben.local.alarm", "ben.local.revoke", "ben.local.node.proxy-1.query", "ben.local.node.proxy-1.answer", "ben.local.node.proxy-1.announce", "_INBOX.U"#
            ), "\(proxy)")

        // Run again with one more operator: every credential already issued is kept.
        let ledgerBefore = try String(contentsOfFile: out + "/ledger.creds", encoding: .utf8)
        let second = try await run(["--topology", root + "/topology/local.yaml", "--out", out, "--operator", "operator", "alice", "--json"])
        #expect(second.status == 0, "\(second.stderr)")
        let json = try JSONParser.parse(second.stdout)
        #expect(json["new"]?.intValue == 1 && json["kept"]?.intValue == 20, "\(second.stdout)")
        #expect(json["account"]?.stringValue == "BEN_local")
        #expect(try String(contentsOfFile: out + "/ledger.creds", encoding: .utf8) == ledgerBefore)
        #expect(try String(contentsOfFile: out + "/nats-server.conf", encoding: .utf8).contains("      # operator alice\n"))
    }

    @Test func aNodeGoneFromTheTopologyIsLeftOutAndNamed() async throws {
        let folder = try TemporaryDirectory(prefix: "ben-nats-config")
        let out = folder.file("nats")
        #expect(try await run(["--topology", root + "/topology/local.yaml", "--out", out]).status == 0)
        let smaller = try String(contentsOfFile: root + "/topology/local.yaml", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("{id: detector-6,") }.joined(separator: "\n")
        try smaller.write(toFile: folder.file("smaller.yaml"), atomically: true, encoding: .utf8)
        let again = try await run(["--topology", folder.file("smaller.yaml"), "--out", out])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("\(out)/nodes/detector-6.creds: no such node in the topology; left out of the configuration (delete the file)"))
        #expect(!(try String(contentsOfFile: out + "/nats-server.conf", encoding: .utf8)).contains("# node detector-6\n"))
    }

    @Test func somethingElseWhereCredentialsBelongIsRefused() async throws {
        let folder = try TemporaryDirectory(prefix: "ben-nats-config")
        let out = folder.file("nats")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try "not credentials\n".write(toFile: out + "/ledger.creds", atomically: true, encoding: .utf8)
        chmod(out + "/ledger.creds", 0o600)
        let refused = try await run(["--topology", root + "/topology/local.yaml", "--out", out])
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("benctl: \(out)/ledger.creds: it holds neither a user JWT nor a user nkey seed"), "\(refused.stderr)")
        let badName = try await run(["--topology", root + "/topology/local.yaml", "--out", folder.file("other"), "--operator", "../x"])
        #expect(badName.status == 1 && badName.stderr.contains("--operator ../x"), "\(badName.stderr)")
    }
}
