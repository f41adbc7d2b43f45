import BenCore
import BenCrypto
import BenTestKit
import BenTopology
import Foundation
import Testing

/// `benctl topology generate | check | plan`, run as the real executable.
@Suite struct BenctlTopologyTests {
    let benctl = ProcessRunner.product("benctl")
    let root = ProcessRunner.repositoryRoot()

    func run(_ arguments: [String]) async throws -> ProcessRunner.Outcome {
        try await ProcessRunner.run(benctl, arguments, currentDirectory: root)
    }

    @Test func checkPrintsASummaryByRoleAndLocation() async throws {
        let outcome = try await run(["topology", "check", "topology/local.yaml"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let topology = try Topology(yaml: String(contentsOfFile: root + "/topology/local.yaml", encoding: .utf8))
        let key = BLAKE2b.key(of: topology.canonicalBytes)
        #expect(outcome.stdout == """
            topology/local.yaml: valid — fleet local, 18 nodes in 1 region, 2 zones, 4 racks
            roles: spine 2, proxy 7, data_migrator 2, detector 8
            by location:
              local/a  2 racks, 9 nodes (spine 1, proxy 4, data_migrator 1, detector 4)
              local/b  2 racks, 9 nodes (spine 1, proxy 3, data_migrator 1, detector 4)
            ledger: 127.0.0.1:7400 in local/a, uplink 10 Gbit/s, up to 8 children
            defaults: chunk 1 MiB, uplink 10 Gbit/s/node, stripes chosen by the planner
            tuning: 2 preferred relays, 1 never relay, 0 in maintenance
            topology key: \(key.hex)

            """)
    }

    @Test func checkListsEveryProblemAndExitsOne() async throws {
        let dir = try TemporaryDirectory()
        var text = try String(contentsOfFile: root + "/topology/local.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "address: 127.0.0.1:7402", with: "address: 127.0.0.1:7401")
        text = text.replacingOccurrences(of: "roles: [spine]", with: "roles: [spin]")
        try text.write(toFile: dir.file("bad.yaml"), atomically: true, encoding: .utf8)
        let outcome = try await run(["topology", "check", dir.file("bad.yaml")])
        #expect(outcome.status == 1)
        #expect(outcome.stdout.isEmpty)
        let lines = outcome.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(outcome.stderr)")
        #expect(lines[0].hasPrefix("\(dir.file("bad.yaml")):"))
        #expect(lines.contains { $0.contains("roles[0]: unknown role 'spin'; did you mean 'spine'?") })
        #expect(lines.contains { $0.contains("nodes[proxy-1].address: address 127.0.0.1:7401 is already node spine-1's") })
        #expect(lines.last == "\(dir.file("bad.yaml")): 3 problems")

        let json = try await run(["topology", "check", "--json", dir.file("bad.yaml")])
        #expect(json.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["valid"] as? Bool == false)
        let errors = try #require(object["errors"] as? [[String: Any]])
        #expect(errors.map { $0["code"] as? String } == ["unknown_role", "duplicate_address", "unknown_role"], "sorted by line")
        #expect(errors.allSatisfy { ($0["line"] as? Int ?? 0) > 0 })
    }

    @Test func planPrintsTreesBackupsAndTheCostReport() async throws {
        let outcome = try await run(["topology", "plan", "topology/local.yaml", "--size", "64MiB", "--seed", "7"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("plan for fleet local v1: 18 nodes"))
        #expect(outcome.stdout.contains("stripe 0 (chunks 0,"))
        #expect(outcome.stdout.contains("ledger 127.0.0.1:7400\n└─ "))
        #expect(outcome.stdout.contains("backups (best first):"))
        #expect(outcome.stdout.contains("cost of a 64 MiB bundle to 18 nodes"))
        for row in ["ledger egress", "largest node egress", "bytes cross_zone", "messages to ledger", "completion ÷ T_opt"] {
            #expect(outcome.stdout.contains(row), "\(row)")
        }
        // Every node appears once in every stripe tree.
        let stripes = outcome.stdout.split(separator: "\n").filter { $0.hasPrefix("stripe ") && $0.contains(" (") && $0.hasSuffix("):") }.count
        #expect(stripes >= 2)
        let treeLines = outcome.stdout.split(separator: "\n").filter { $0.contains("─ ") }
        #expect(treeLines.count == 18 * stripes)
    }

    @Test func planAsJSONCarriesThePlanAndTheCost() async throws {
        let outcome = try await run(["topology", "plan", "topology/local.yaml", "--json", "--down", "proxy-3", "--roles", "proxy,spine"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let value = try JSONParser.parse(Array(outcome.stdout.utf8))
        let plan = try Plan(json: try #require(value["plan"]))
        #expect(plan.validate() == nil)
        #expect(Set(plan.nodes.map(\.id.rawValue)) == ["spine-1", "spine-2", "proxy-1", "proxy-2", "proxy-4", "proxy-5", "proxy-6", "proxy-7"])
        #expect(value["excluded"] == [["node": "proxy-3", "reason": "down"]])
        #expect(value["plan_key"]?.stringValue == BLAKE2b.key(of: plan).hex)
        let star = try #require(value["cost"]?["star"])
        #expect(star["ledger_messages"] == .int(8))
        #expect(star["ledger_egress"] == .int(8 * (64 << 20)))
    }

    @Test func planAsDOTDrawsEveryStripeEdge() async throws {
        let outcome = try await run(["topology", "plan", "topology/local.yaml", "--dot", "--stripes", "2"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.hasPrefix("digraph plan {"))
        #expect(outcome.stdout.components(separatedBy: " -> ").count - 1 == 2 * 18)
        #expect(outcome.stdout.contains("subgraph cluster_rack_"))
    }

    @Test(arguments: [
        (["topology", "plan", "topology/local.yaml", "--down", "proxy-77"], "--down: unknown node 'proxy-77' (nearest: proxy-7)"),
        (["topology", "plan", "topology/local.yaml", "--roles", "spine,cook"], "--roles: unknown role 'cook' (nearest: "),
        (["topology", "plan", "topology/local.yaml", "--roles", "prox"], "--roles: unknown role 'prox' (nearest: proxy)"),
        (["topology", "plan", "topology/local.yaml", "--nodes", "spine-1,proxy-9"], "--nodes: unknown node 'proxy-9' (nearest: proxy-1)"),
        (["topology", "plan", "topology/local.yaml", "--location", "local/c"], "--location: unknown location 'local/c' (nearest: local/a)"),
        (["topology", "plan", "topology/local.yaml", "--locations", "local/b/b3,local/a/a1"], "--location: unknown location 'local/b/b3' (nearest: local/b/b1)"),
        (["topology", "plan", "topology/local.yaml", "--roles", "spine", "--location", "local/a/a2"], "selects no node of fleet local"),
        (["topology", "plan", "topology/local.yaml", "--size", "lots"], "--size: 'lots' is not a size"),
        (["topology", "plan", "topology/local.yaml", "--json", "--dot"], "choose one of --json and --dot"),
        (["topology", "check", "/nonexistent/fleet.yaml"], "/nonexistent/fleet.yaml: cannot open"),
        (["topology", "generate", "--regions", "1", "--zones", "2", "--racks", "3", "--nodes", "4"], "--nodes: 4 nodes cannot fill 6 racks"),
    ])
    func badRequestsGetOneLineAndExitOne(arguments: [String], message: String) async throws {
        let outcome = try await run(arguments)
        #expect(outcome.status == 1)
        #expect(outcome.stderr.hasPrefix("benctl: "), "\(outcome.stderr)")
        #expect(outcome.stderr.contains(message), "\(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count <= 2)
    }

    @Test func generateWritesAValidFleetWithKeysDerivedFromTheSeed() async throws {
        let dir = try TemporaryDirectory()
        let args = ["topology", "generate", "--regions", "2", "--zones", "2", "--racks", "5", "--nodes", "3000", "--seed", "9"]
        let first = try await run(args + ["-o", dir.file("a.yaml")])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("wrote \(dir.file("a.yaml")): 3000 nodes in 20 racks"))
        let second = try await run(args)
        #expect(second.status == 0)
        let written = try String(contentsOfFile: dir.file("a.yaml"), encoding: .utf8)
        #expect(second.stdout == written, "the same flags give the same file")
        let check = try await run(["topology", "check", dir.file("a.yaml")])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("3000 nodes in 2 regions, 4 zones, 20 racks"))
        // Each key is the Ed25519 public key of the seed BLAKE2b-256("ben/topology/generate/v1", 0, seed, id).
        let topology = try Topology(yaml: written)
        for node in topology.nodes.prefix(3) {
            var input = Array("ben/topology/generate/v1".utf8) + [0]
            withUnsafeBytes(of: UInt64(9).littleEndian) { input.append(contentsOf: $0) }
            input.append(contentsOf: node.id.rawValue.utf8)
            let key = try #require(SigningKey(seed: BLAKE2b.key(of: input).bytes))
            #expect(key.publicKey.hex == node.key.hex)
        }
        #expect(Set(topology.nodes.map(\.key)).count == 3000)
    }
}
