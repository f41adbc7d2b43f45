import BenCore
import BenNATS
import BenTestKit
import Foundation
import Testing

/// Issue 15, item 3: NATS authorization ships with Ben and every fleet test runs with it (LocalFleet runs the
/// configuration `benctl nats config` writes). A whole rollout needs no permission it lacks, and nats-server itself
/// refuses an agent's credentials publishing an announcement, while the ledger's may.
@Suite(.serialized) struct NATSAuthorizationTests {
    static let intent = ProcessRunner.repositoryRoot() + "/examples/intent"

    @Test func natsRefusesAnAgentsCredentialsPublishingAnAnnouncementAndTakesTheLedgers() async throws {
        let fleet = try await LocalFleet(nodes: 4)
        try await fleet.startLedger()
        try await fleet.startAgents()
        try await fleet.waitUntilReady()
        let version = try await fleet.stage(Self.intent)
        let deployed = try await fleet.benctl(["deploy", "\(version.rawValue)", "--wait", "--timeout", "60"])
        #expect(deployed.status == 0, "\(deployed.stdout)\(deployed.stderr)")
        let eval = try await fleet.benctl([
            "eval", "--node", "node-2", "--role", "proxy", "--input", ProcessRunner.repositoryRoot() + "/examples/requests/proxy-export.json",
        ])
        #expect(eval.status == 0, "\(eval.stderr)")
        // A restarted agent catches up from the stream with its own credentials.
        await fleet.stopAgent("node-3")
        try await fleet.startAgent("node-3")
        try await fleet.waitUntilReady(["node-3"], times: 2)
        try await fleet.waitUntil(timeout: .seconds(30), "node-3 runs v\(version.rawValue) again") { fleet.agentState("node-3")?.active == version }
        #expect(!fleet.nats.log.contains("Violation"), "Ben's own processes need no permission they lack:\n\(fleet.nats.log)")

        let subject = NATSSubjects.announce(fleet.fleet)
        let listener = try await fleet.connectNATS(as: .node("node-4"))
        let heard = try await listener.subscribe(subject: subject)
        try await listener.flush()
        let current = try #require(
            try await listener.jetStream().lastMessage(stream: NATSSubjects.announceStream(fleet.fleet), subject: subject))

        // node-1's credentials: an announcement signed with node-1's own key, for a version far ahead.
        let forged = Announcement(
            fleet: fleet.fleet, version: Version(99), manifest: Key(digest: [UInt8](repeating: 9, count: 32)), manifestSize: 1,
            plan: Key(digest: [UInt8](repeating: 9, count: 32)), topology: Key(digest: [UInt8](repeating: 9, count: 32)),
            issuedAt: Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)),
            deadline: Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000) + 60_000),
            expires: Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000),
            ledger: "127.0.0.1:\(fleet.ledgerPort)", epoch: 99)
        let agent = try await fleet.connectNATS(as: .node("node-1"))
        let events = agent.events()
        try await agent.publish(fleet.nodes[0].key.envelope(forged, context: .announce).canonicalBytes, subject: subject)
        try await agent.flush()
        let refusal = try await within(.seconds(10)) { () -> NATSError? in
            for await event in events {
                if case .error(let error) = event, error.code == .notPermitted { return error }
            }
            return nil
        }
        #expect(refusal?.detail.contains("Permissions Violation for Publish to \"\(subject)\"") == true, "\(String(describing: refusal))")
        #expect(fleet.nats.log.contains("Publish Violation"), "nats-server itself refused it")
        #expect(fleet.nats.log.contains("Subject \"\(subject)\""), "\(fleet.nats.log)")

        // The ledger's credentials may publish there: its current announcement, again, reaches the node's listener
        // (and is nothing new to the agents).
        let ledger = try await fleet.connectNATS(as: .ledger)
        try await ledger.publish(current.payload, subject: subject)
        try await ledger.flush()
        let first = try await within(.seconds(10)) { () -> [UInt8]? in
            for await message in heard { return message.payload }
            return nil
        }
        #expect(first == current.payload, "the forged announcement never reached anyone; the ledger's did")
        let head = try #require(
            try await listener.jetStream().lastMessage(stream: NATSSubjects.announceStream(fleet.fleet), subject: subject))
        #expect(head.payload == current.payload)
        for node in fleet.nodes { #expect(fleet.agentState(node.id)?.highestAccepted == version, "\(node.id)") }
        for connection in [listener, agent, ledger] { await connection.close() }
    }

    @Test func aClientWithoutCredentialsCannotConnectToTheFleetsNATS() async throws {
        let fleet = try await LocalFleet(nodes: 1)
        var settings = NATSSettings()
        settings.reconnect.maxAttempts = 1
        await #expect {
            _ = try await NATSConnection.connect(to: fleet.natsURL, settings: settings)
        } throws: { ($0 as? NATSError)?.code == .authentication }
        // benctl without the operator's credentials is refused the same way, and says what to give it.
        let outcome = try await ProcessRunner.run(
            ProcessRunner.product("benctl"), ["versions", "--fleet", fleet.fleet.rawValue, "--nats", fleet.natsURL],
            environment: ["BEN_CONFIG_DIR": "/nonexistent/ben-config"])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("give the operator's NATS credentials with --creds, BEN_NATS_CREDS or a context"), "\(outcome.stderr)")
        let operatorConnection = try await fleet.connectNATS(as: .operator)
        await operatorConnection.close()
    }

    /// Waits for `body`, or nil after `limit`.
    func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async -> T?) async throws -> T? {
        await withTaskGroup(of: T?.self) { group in
            group.addTask { await body() }
            group.addTask {
                try? await Task.sleep(for: limit)  // the deadline the body races, not a wait for it
                return nil
            }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
    }
}
