import BenCore
import BenCrypto
import BenTestKit
import Foundation
import Testing

/// The whole flow with real processes (issue 6): nats-server, ben-ledger and one ben-agent per node, driven
/// with benctl. Smaller than `make demo`, and asserting on what the ledger and every agent hold.
@Suite(.serialized) struct MeshEndToEndTests {
    let repository = ProcessRunner.repositoryRoot()

    static func roles(_ i: Int) -> [Role] {
        [[.proxy], [.spine], [.detector], [.dataMigrator], [.proxy, .detector]][i % 5]
    }

    @Test func aFleetDeploysChangesAPolicyAndRollsBackWithSignedProofFromEveryNode() async throws {
        let fleet = try await LocalFleet(nodes: 7, roles: Self.roles)
        try await fleet.startLedger()
        try await fleet.startAgents()
        let v1 = try await fleet.stage(repository + "/examples/intent")
        let deploy = try await fleet.benctl(["deploy", "\(v1.rawValue)", "--wait", "--timeout", "60"])
        #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
        let status = try await fleet.status(v1)
        #expect(status.status == "active")
        #expect(status.active == 7 && status.required == 7)
        #expect(status.missing.isEmpty)
        #expect(status.messagesAtLedger <= status.fanOut, "acks came up the tree, about one message per child of the ledger")
        #expect(status.ledgerEgress <= status.bundleSize * Int64(status.fanOut))
        for node in fleet.nodes {
            #expect(fleet.agentState(node.id)?.active == v1, "\(node.id)")
        }
        let request = repository + "/examples/requests/proxy-export.json"
        let before = try await fleet.benctl(["eval", "--node", "node-1", "--role", "proxy", "--input", request])
        #expect(before.stdout.contains("decision: deny"), "\(before.stdout)\(before.stderr)")

        // v2 raises the export limit: the same request is allowed.
        let changed = try TemporaryDirectory()
        _ = try await ProcessRunner.run("/bin/cp", ["-r", repository + "/examples/intent/.", changed.path])
        let edge = changed.file("policies/edge.yaml")
        try (try String(contentsOfFile: edge, encoding: .utf8)).replacingOccurrences(of: "1000000u", with: "50000000u")
            .write(toFile: edge, atomically: true, encoding: .utf8)
        let staged = try await fleet.benctl(["stage", changed.path, "--json"])
        let v2 = Version(UInt64(try JSONParser.parse(staged.stdout)["version"]!.intValue!))
        #expect(try await fleet.benctl(["deploy", "\(v2.rawValue)", "--wait", "--timeout", "60"]).status == 0)
        for node in fleet.nodes { #expect(fleet.agentState(node.id)?.active == v2, "\(node.id)") }
        #expect(try await fleet.benctl(["eval", "--node", "node-1", "--role", "proxy", "--input", request]).stdout.contains("decision: allow"))

        // Rolling back is a new version with v1's content.
        let rollback = try await fleet.benctl(["rollback", "--to", "\(v1.rawValue)", "--wait", "--timeout", "60", "--json"])
        #expect(rollback.status == 0, "\(rollback.stderr)")
        let v3 = Version(3)
        #expect(try await fleet.status(v3).manifest == status.manifest)
        for node in fleet.nodes { #expect(fleet.agentState(node.id)?.active == v3, "\(node.id)") }
        #expect(try await fleet.benctl(["eval", "--node", "node-1", "--role", "proxy", "--input", request]).stdout.contains("decision: deny"))
        #expect(try await fleet.status(v1).status == "superseded")
        #expect(try await fleet.benctl(["log", "--verify"]).status == 0)
    }
}
