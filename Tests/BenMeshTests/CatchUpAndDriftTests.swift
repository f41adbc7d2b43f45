import BenCore
import BenNATS
import BenTestKit
import Foundation
import Testing

/// Issue 7, items 2 and 3: nodes that were away catch up on their own, a restarted agent serves what it last
/// verified before it talks to anyone, and `benctl status --drift` shows who runs what, by location.
@Suite(.serialized) struct CatchUpAndDriftTests {
    let intent = ProcessRunner.repositoryRoot() + "/examples/intent"

    @Test func anAgentStartedAfterTheDeployCatchesUpFromJetStreamAndTheStore() async throws {
        let fleet = try await LocalFleet(nodes: 4)
        let late = fleet.nodes[3].id
        try await fleet.startLedger()
        try await fleet.startAgents(fleet.nodes.dropLast().map(\.id))
        try await ShapedFleet.waitListening(fleet, fleet.nodes.dropLast().map(\.id))
        let v1 = try await fleet.stage(intent)
        try await fleet.deploy(v1, ["--timeout", "60"])
        try await fleet.waitUntil(timeout: .seconds(30), "the running agents activate v1") {
            fleet.nodes.dropLast().allSatisfy { fleet.agentState($0.id)?.active == v1 }
        }
        #expect(try await fleet.status(v1).status == "deploying", "v1 waits for the late node's signed ack")

        try await fleet.startAgent(late)
        try await fleet.waitUntil(timeout: .seconds(30), "v1 is active") { (try? await fleet.status(v1).status) == "active" }
        let log = fleet.agentLog(late)
        #expect(log.contains("accepted announcement of v1"), "it learnt v1 from JetStream's stored announcement")
        #expect(log.contains("no parent reached this node for v1; pulling"), "it fetched as an orphan")
        #expect(log.contains("transfer complete"))
        #expect(fleet.agentState(late)?.active == v1)
        let status = try await fleet.status(v1)
        #expect(status.active == 4 && status.missing.isEmpty)
    }

    @Test func aRestartedAgentServesItsLastVerifiedVersionBeforeItReachesAnyone() async throws {
        let fleet = try await LocalFleet(nodes: 2)
        try await fleet.startLedger()
        try await fleet.startAgents()
        try await ShapedFleet.waitListening(fleet, fleet.nodes.map(\.id))
        let v1 = try await fleet.stage(intent)
        #expect(try await fleet.benctlInBackground(["deploy", "\(v1.rawValue)", "--wait", "--timeout", "30"]).status == 0)
        // No ledger and no peers: only nats-server, which `benctl eval` talks through.
        await fleet.killLedger()
        let node = fleet.nodes[0].id
        await fleet.stopAgent(fleet.nodes[1].id)
        await fleet.stopAgent(node, signal: SIGKILL)
        try await fleet.startAgent(node)
        let request = ProcessRunner.repositoryRoot() + "/examples/requests/proxy-export.json"
        var answer: ProcessRunner.Outcome?
        try await fleet.waitUntil(timeout: .seconds(20), "the restarted agent answers") {
            answer = try? await fleet.benctl(["eval", "--node", node.rawValue, "--role", "proxy", "--input", request])
            return answer?.status == 0
        }
        let answered = try #require(answer)
        #expect(answered.stdout.contains("decision: deny"), "v1's policy answers: \(answered.stdout)\(answered.stderr)")
        #expect(answered.stdout.contains("node-1 serving v1:"), "\(answered.stdout)")
        // Its log since the restart: serving first, then the listener; nothing was fetched.
        let restarted = try #require(fleet.agentLog(node).components(separatedBy: "serving the last verified version at once").last)
        #expect(fleet.agentLog(node).contains("serving the last verified version at once"))
        #expect(restarted.contains("listening for peer links"), "it served before it even listened")
        #expect(!restarted.contains("transfer complete"))
    }

    @Test func driftListsNodesOnAnotherVersionAndSilentNodesByLocationFromHeartbeatsSentOnChange() async throws {
        // Periodic heartbeats every 30 s: anything the ledger learns within the test came from a heartbeat sent on a
        // change. node-4, a detector the deploy does not target, beats every second, to show the period is jittered. node-5 never starts.
        let fleet = try await LocalFleet(nodes: 5) { $0 < 3 ? [.proxy] : [.detector] }
        fleet.agentArguments = ["--heartbeat", "30", "--orphan-after", "3"]
        fleet.ledgerArguments = ["--silent-after", "60"]
        fleet.nodeArguments[fleet.nodes[3].id] = ["--heartbeat", "1"]
        let connection = try await fleet.connectNATS(as: .ledger)
        let beats = try await connection.subscribe(subject: NATSSubjects.heartbeat(fleet.fleet))
        try await connection.flush()
        let collector = Task {
            var times: [ContinuousClock.Instant] = []
            for await message in beats {
                if let beat = try? Heartbeat.decode(message.payload), beat.node == "node-4" { times.append(.now) }
                if times.count >= 12 { break }
            }
            return times
        }
        try await fleet.startLedger()
        try await fleet.startAgents(fleet.nodes.prefix(4).map(\.id))
        try await ShapedFleet.waitListening(fleet, fleet.nodes.prefix(4).map(\.id))
        let v1 = try await fleet.stage(intent)
        #expect(try await fleet.benctlInBackground(["deploy", "\(v1.rawValue)", "--roles", "proxy", "--wait", "--timeout", "30"]).status == 0)

        func drift() async throws -> JSONValue { try JSONParser.parse(await fleet.benctl(["status", "--drift", "--json"]).stdout) }
        try await fleet.waitUntil(timeout: .seconds(15), "the proxies' heartbeats report v1") {
            guard let d = try? await drift() else { return false }
            return d["running"]?["1"]?.intValue == 3
        }
        let d = try await drift()
        #expect(d["fleet_version"]?.intValue == 1)
        #expect(d["differing"]?.arrayValue?.compactMap { $0["node"]?.stringValue } == ["node-4"], "the detector runs no version: \(d)")
        #expect(d["differing"]?.arrayValue?.first?["location"]?.stringValue == "test/b/r2")
        #expect(d["silent"]?.arrayValue?.compactMap { $0["node"]?.stringValue } == ["node-5"], "never heard from")
        #expect(d["silent"]?.arrayValue?.first?["last_heard"] == .null)
        let text = try await fleet.benctl(["status", "--drift"]).stdout
        #expect(text.contains("fleet's active version v1; 3/5 nodes run it"), "\(text)")
        #expect(text.contains("test/b/r2: 2 nodes"), "grouped by location:\n\(text)")
        #expect(text.contains("node-4 runs v0"), "\(text)")
        #expect(text.contains("node-5 silent (never heard from)"), "\(text)")

        // The period is jittered (±20 %): a dozen beats a second apart do not keep step.
        let times = await collector.value
        await connection.close()
        let gaps = zip(times.dropFirst(), times).map { Double(($0 - $1).components.attoseconds) / 1e18 + Double(($0 - $1).components.seconds) }
        let periodic = gaps.filter { $0 > 0.5 }
        #expect(periodic.count >= 6, "\(gaps)")
        #expect((periodic.max() ?? 0) - (periodic.min() ?? 0) > 0.1, "beats spread over the jitter: \(periodic)")
    }
}
