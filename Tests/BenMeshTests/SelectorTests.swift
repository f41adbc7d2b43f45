import BenCore
import BenCrypto
import BenNATS
import BenTestKit
import Foundation
import Testing

/// Issue 13 item 4: selectors are checked in benctl and again in the ledger. An unknown role, node or location
/// is one line naming it and the nearest known name, exit 1, and nothing changes; nothing is dropped silently.
@Suite(.serialized) struct SelectorTests {
    let intent = ProcessRunner.repositoryRoot() + "/examples/intent"

    /// Four nodes: node-1..3 in rack r1 (zone a), node-4 in rack r2 (zone b); node-3 is a detector, the rest proxies.
    func ledgerWithStagedVersion() async throws -> (LocalFleet, Version) {
        let fleet = try await LocalFleet(nodes: 4) { $0 == 2 ? [.detector] : [.proxy] }
        try await fleet.startLedger()
        return (fleet, try await fleet.stage(intent))
    }

    func expectRefused(_ outcome: ProcessRunner.Outcome, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(outcome.status == 1, "\(outcome.stdout)\(outcome.stderr)", sourceLocation: sourceLocation)
        #expect(outcome.stderr.hasPrefix("benctl: "), "\(outcome.stderr)", sourceLocation: sourceLocation)
        #expect(outcome.stderr.contains(message), "\(outcome.stderr)", sourceLocation: sourceLocation)
        #expect(outcome.stderr.split(separator: "\n").count <= 2, "one line: \(outcome.stderr)", sourceLocation: sourceLocation)
    }

    /// A deploy request signed by the operator and sent straight to the ledger, as a benctl without the local
    /// check would: the ledger's own answer.
    func deployDirectly(_ fleet: LocalFleet, _ args: JSONValue) async throws -> (ok: Bool, answer: JSONValue) {
        let connection = try await fleet.connectNATS(as: .operator)
        let request = OperatorRequest(
            fleet: fleet.fleet, verb: "deploy", at: Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)),
            nonce: Hex.encode(SecureRandom.bytes(16)), body: BLAKE2b.key(of: [UInt8]()), args: args)
        var headers = NATSHeaders()
        headers.set(String(decoding: fleet.operatorKey.envelope(request, context: .operatorRequest).canonicalBytes, as: UTF8.self), for: OperatorAPI.requestHeader)
        let reply = try await connection.request([], subject: NATSSubjects.api(fleet.fleet, verb: "deploy"), headers: headers, timeout: .seconds(20))
        await connection.close()
        return (reply.headers[OperatorAPI.statusHeader] == "ok", try JSONParser.parse(reply.payload))
    }

    func auditKinds(_ fleet: LocalFleet) async throws -> [String] {
        // One JSON object per line, one line per entry.
        try await fleet.benctl(["log", "--json"]).stdout.split(separator: "\n").map { try JSONParser.parse(String($0))["kind"]?.stringValue ?? "?" }
    }

    @Test func aMistypedSelectorIsRefusedByBenctlAndByTheLedgerAndNothingIsDeployed() async throws {
        let (fleet, v1) = try await ledgerWithStagedVersion()
        let audited = try await auditKinds(fleet)

        // benctl: each unknown name, with the nearest known one.
        expectRefused(try await fleet.benctl(["deploy", "\(v1.rawValue)", "--roles", "prox"]), "--roles: unknown role 'prox' (nearest: proxy)")
        expectRefused(try await fleet.benctl(["deploy", "\(v1.rawValue)", "--nodes", "node-1,node-9"]), "--nodes: unknown node 'node-9' (nearest: node-1)")
        expectRefused(try await fleet.benctl(["deploy", "\(v1.rawValue)", "--locations", "test/c"]), "--locations: unknown location 'test/c' (nearest: test/a)")
        expectRefused(
            try await fleet.benctl(["deploy", "\(v1.rawValue)", "--roles", "prox", "--nodes", "nod-4"]),
            "--roles: unknown role 'prox' (nearest: proxy)")
        expectRefused(
            try await fleet.benctl(["deploy", "\(v1.rawValue)", "--roles", "detector", "--locations", "test/b"]), "selects no node of fleet test")
        expectRefused(try await fleet.benctl(["deploy", "\(v1.rawValue)", "--retry", "--roles", "proxy"]), "--retry announces again")

        // The ledger checks again: a request with an unknown role, straight to it, is refused and changes nothing.
        let direct = try await deployDirectly(fleet, ["version": .int(Int64(v1.rawValue)), "roles": ["prox", "proxy"]])
        #expect(!direct.ok)
        #expect(direct.answer["error"]?.stringValue?.hasPrefix("--roles: unknown role 'prox' (nearest: proxy)") == true, "\(direct.answer)")
        let unknownNode = try await deployDirectly(fleet, ["version": .int(Int64(v1.rawValue)), "nodes": ["node-44"]])
        #expect(unknownNode.answer["error"]?.stringValue?.contains("unknown node 'node-44' (nearest: node-4)") == true, "\(unknownNode.answer)")
        let notNames = try await deployDirectly(fleet, ["version": .int(Int64(v1.rawValue)), "roles": "proxy"])
        #expect(notNames.answer["error"]?.stringValue == "roles: expected an array of names", "\(notNames.answer)")

        let versions = try JSONParser.parse(try await fleet.benctl(["versions", "--json"]).stdout)
        #expect(versions["versions"]?.arrayValue?.first?["status"]?.stringValue == "staged", "nothing was deployed: \(versions)")
        #expect(try await auditKinds(fleet) == audited, "a refused request leaves no trace in the audit log")

        // A selector that names only known things deploys to exactly what it selects.
        let deployed = try await fleet.benctlInBackground(
            ["deploy", "\(v1.rawValue)", "--roles", "proxy", "--locations", "test/a", "--json", "--timeout", "5"])
        #expect(deployed.status == 0, "\(deployed.stderr)")
        let answer = try JSONParser.parse(deployed.stdout)
        #expect(answer["targets"]?.intValue == 2, "node-1 and node-2: \(answer)")
        let plan = try fleet.ledgerPlan(try #require(answer["plan"]?.stringValue.flatMap(Key.init(hex:))))
        #expect(plan.nodes.map(\.id).sorted() == ["node-1", "node-2"])
    }

    @Test func statusFiltersAndEvalCheckTheirNamesToo() async throws {
        let (fleet, v1) = try await ledgerWithStagedVersion()
        #expect(try await fleet.benctlInBackground(["deploy", "\(v1.rawValue)", "--timeout", "3", "--json"]).status == 0)
        try await fleet.waitUntil(timeout: .seconds(20), "v1 is incomplete (no agents run)") { (try? await fleet.status(v1).status) == "incomplete" }

        expectRefused(try await fleet.benctl(["status", "\(v1.rawValue)", "--nodes", "node-99"]), "--nodes: unknown node 'node-99' (nearest: node-1)")
        expectRefused(try await fleet.benctl(["status", "--drift", "--locations", "test/a/r9"]), "--locations: unknown location 'test/a/r9' (nearest: test/a/r1)")
        expectRefused(try await fleet.benctl(["status", "--drift", "--roles", "detektor"]), "--roles: unknown role 'detektor' (nearest: detector)")

        // A filter narrows what status says to the nodes it selects.
        let filtered = try DeploymentStatus(json: try JSONParser.parse(try await fleet.benctl(["status", "\(v1.rawValue)", "--json", "--locations", "test/b"]).stdout))
        #expect(filtered.required == 1 && filtered.missing.map(\.node) == ["node-4"], "\(filtered)")
        let drift = try JSONParser.parse(try await fleet.benctl(["status", "--drift", "--json", "--roles", "detector"]).stdout)
        #expect(drift["nodes"]?.intValue == 1 && drift["silent"]?.arrayValue?.compactMap { $0["node"]?.stringValue } == ["node-3"], "\(drift)")

        let request = ProcessRunner.repositoryRoot() + "/examples/requests/proxy-export.json"
        expectRefused(try await fleet.benctl(["eval", "--node", "node-77", "--role", "proxy", "--input", request]), "--node: unknown node 'node-77' (nearest: node-1)")
        expectRefused(try await fleet.benctl(["eval", "--node", "node-3", "--role", "proxy", "--input", request]), "--role proxy: node-3 runs detector, not proxy")
        expectRefused(try await fleet.benctl(["eval", "--node", "node-1", "--role", "prxy", "--input", request]), "--role: unknown role 'prxy' (nearest: proxy)")
    }
}
