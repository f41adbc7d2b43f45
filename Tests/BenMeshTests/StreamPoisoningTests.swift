import BenCore
import BenCrypto
import BenNATS
import BenTestKit
import Foundation
import Testing

/// Issue 15, items 4 and 7: the two attacks on the announcement stream, against a real nats-server, ledger and
/// agents. NATS runs Ben's authorization, so only the ledger's NATS credentials may publish on
/// `ben.<fleet>.announce`: the attacker here holds those (stolen), not the ledger's signing key. Whatever they put
/// at the head of the stream, a node catching up still ends on the ledger's newest real version, and the ledger puts
/// its own announcement back on top and raises an alarm that `benctl status` and the audit log show.
@Suite(.serialized) struct StreamPoisoningTests {
    let intent = ProcessRunner.repositoryRoot() + "/examples/intent"

    func now() -> Timestamp { Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)) }

    /// A fleet of three running v1, v2 and v3 (v2 and v3 carry v1's content: rollbacks).
    func fleetRunningThreeVersions(leaseTTL: Int = 20) async throws -> LocalFleet {
        let fleet = try await LocalFleet(nodes: 3)
        fleet.leaseArguments = ["--lease-ttl", "\(leaseTTL)", "--standby"]
        // What is tested is the stream's catch-up path: with gossip, a restarted node may hear the real newest version
        // from a peer first and never need the stream (GossipTests covers that path).
        fleet.agentArguments += ["--gossip", "off"]
        try await fleet.startLedger()
        try await fleet.startAgents()
        try await fleet.waitUntilReady()
        let v1 = try await fleet.stage(intent)
        let deployed = try await fleet.benctl(["deploy", "\(v1.rawValue)", "--wait", "--timeout", "90"])
        #expect(deployed.status == 0, "\(deployed.stdout)\(deployed.stderr)")
        return fleet
    }

    /// A new version with v1's content; returns its plan.
    @discardableResult
    func rollBack(_ fleet: LocalFleet, wait: Bool) async throws -> Plan? {
        let rolled = try await fleet.benctl(["rollback", "--to", "1", "--timeout", "120"] + (wait ? ["--wait"] : ["--json"]))
        #expect(rolled.status == 0, "\(rolled.stdout)\(rolled.stderr)")
        guard !wait, let key = try JSONParser.parse(rolled.stdout)["plan"]?.stringValue.flatMap({ Key(hex: $0) }) else { return nil }
        return try fleet.ledgerPlan(key)
    }

    /// Waits until every relay that feeds `node` in a stripe of `plan` has given up on it (it is down), so that
    /// while the ledger cannot act, the announcement stream is the only way `node` learns of the version.
    func waitUntilRelaysGaveUp(on node: NodeID, in plan: Plan, _ fleet: LocalFleet) async throws {
        let index = try #require(plan.nodes.firstIndex { $0.id == node })
        let relays = Set(plan.stripes.map { $0[index] }.filter { $0 != Plan.ledger }.map { plan.nodes[Int($0)].id })
        for relay in relays.sorted() {
            try await fleet.waitUntil(timeout: .seconds(60), "\(relay) gives up on \(node)") {
                fleet.agentLog(relay).contains("child \(node) unreachable (")
            }
        }
    }

    func head(_ connection: NATSConnection, _ fleet: LocalFleet) async throws -> JetStream.StoredMessage? {
        try await connection.jetStream().lastMessage(stream: NATSSubjects.announceStream(fleet.fleet), subject: NATSSubjects.announce(fleet.fleet))
    }

    /// The head of the stream, if it is an announcement the fleet's ledger signed.
    func ledgersHead(_ connection: NATSConnection, _ fleet: LocalFleet) async throws -> Announcement? {
        guard let bytes = try await head(connection, fleet)?.payload,
            let envelope = try? SignedEnvelope.decode(bytes, document: "announcement", maxBytes: Announcement.maxBytes),
            (try? envelope.verify(context: .announce, trusted: TrustedKeys([fleet.ledgerKey.publicKey]))) != nil
        else { return nil }
        return try? envelope.document(as: Announcement.self)
    }

    /// The audit log's entries of `kind`, as `benctl log --json` prints them.
    func auditEntries(_ fleet: LocalFleet, kind: String) async throws -> [JSONValue] {
        let log = try await fleet.benctl(["log", "--json"])
        #expect(log.status == 0, "\(log.stderr)")
        return log.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }.filter { $0["kind"]?.stringValue == kind }
    }

    /// The alarms `benctl status --json` shows, by kind.
    func statusAlarms(_ fleet: LocalFleet) async throws -> [String] {
        let status = try await fleet.benctl(["status", "--json"])
        let json = try JSONParser.parse(status.stdout)
        return (json["alarms"]?.arrayValue ?? []).compactMap { $0["kind"]?.stringValue }
    }

    @Test func streamPoisonedByAForeignKey() async throws {
        // The ledger is paused below for a few seconds; a long lease keeps it the holder meanwhile.
        let fleet = try await fleetRunningThreeVersions(leaseTTL: 60)
        try await rollBack(fleet, wait: true)  // v2, on every node
        // node-3 goes down, and v3 is deployed without it: node-3 restarts with its state, running v2.
        let node = fleet.nodes[2].id
        await fleet.stopAgent(node)
        let plan = try #require(try await rollBack(fleet, wait: false))  // v3
        try await fleet.waitUntil(timeout: .seconds(90), "the others activate v3") {
            fleet.nodes.prefix(2).allSatisfy { fleet.agentState($0.id)?.active == 3 }
        }
        try await waitUntilRelaysGaveUp(on: node, in: plan, fleet)
        #expect(fleet.agentState(node)?.active == 2)

        // Someone with the ledger's NATS credentials publishes v99, signed by a key of their own. The ledger is paused (it would
        // otherwise put v3 back within milliseconds), so the forgery is what heads the stream when node-3 restarts.
        let ledger = try #require(fleet.ledger)
        ledger.signal(SIGSTOP)
        let connection = try await fleet.connectNATS(as: .ledger)
        let stranger = SigningKey.generate()
        let t = now()
        let forged = Announcement(
            fleet: fleet.fleet, version: 99, manifest: Key(digest: [UInt8](repeating: 9, count: 32)), manifestSize: 100,
            plan: Key(digest: [UInt8](repeating: 8, count: 32)), topology: Key(digest: [UInt8](repeating: 7, count: 32)), issuedAt: t,
            deadline: t + .seconds(600), expires: t + .seconds(86_400), ledger: "127.0.0.1:\(fleet.ledgerPort)", epoch: 1_000)
        let forgedBytes = stranger.envelope(forged, context: .announce).canonicalBytes
        _ = try await connection.jetStream().publish(forgedBytes, subject: NATSSubjects.announce(fleet.fleet))
        #expect(try await head(connection, fleet)?.payload == forgedBytes, "the forgery heads the stream")

        // node-3 restarts with its state and catches up to the real newest version, v3, from the stream's history.
        try await fleet.startAgent(node)
        try await fleet.waitUntil(timeout: .seconds(60), "node-3 accepts v3 while the forgery heads the stream") {
            fleet.agentState(node)?.highestAccepted == 3
        }
        #expect(try await head(connection, fleet)?.payload == forgedBytes, "the ledger has not repaired the head yet")
        let log = fleet.agentLog(node)
        #expect(log.contains("catching up: skipped an announcement in the stream"), "\(log)")
        #expect(log.contains("signed by \(stranger.keyID), none of which is a trusted key"), "\(log)")
        #expect(!log.contains("refused announcement of v99"), "the forgery is skipped, not acted on")

        // The ledger wakes: it puts v3 back at the head and raises the alarm.
        ledger.signal(SIGCONT)
        try await fleet.waitUntil(timeout: .seconds(30), "the ledger raises the alarm") {
            fleet.ledgerLog.contains("alarm: an announcement signed by a key that is not this ledger's (\(stranger.keyID)) was published")
        }
        // Polls the stream's head (pacing 100 ms, up to a deadline): the event is the head changing.
        let deadline = ContinuousClock.now + .seconds(30)
        while try await ledgersHead(connection, fleet)?.version != 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(try await ledgersHead(connection, fleet)?.version == 3, "the ledger's v3 heads the stream again")
        #expect(try await statusAlarms(fleet).contains("stream_foreign_key"))
        let text = try await fleet.benctl(["status", "3"]).stdout
        #expect(text.contains("ALARM") && text.contains("stream_foreign_key") && text.contains(stranger.keyID), "\(text)")
        let audited = try await auditEntries(fleet, kind: "stream_foreign_key")
        #expect(audited.count == 1, "\(audited)")
        #expect(audited.first?["detail"]?["alarm"]?.stringValue?.contains(stranger.keyID) == true, "\(audited)")
        #expect(audited.first?["detail"]?["check"]?.stringValue == "message")

        // And node-3 finishes v3 (it held v1's content already): v3 becomes active with its signed ack.
        try await fleet.waitUntil(timeout: .seconds(90), "node-3 activates v3 and v3 is active") {
            guard fleet.agentState(node)?.active == 3 else { return false }
            return (try? await fleet.status(3).status) == "active"
        }
        #expect(try await fleet.benctl(["log", "--verify"]).status == 0)
        await connection.close()
    }

    @Test func streamPoisonedByAReplayWhileTheLedgerIsDown() async throws {
        let fleet = try await fleetRunningThreeVersions()
        let connection = try await fleet.connectNATS(as: .ledger)
        let v1Bytes = try #require(try await head(connection, fleet)).payload
        try await rollBack(fleet, wait: true)  // v2, on every node
        // node-3 loses its state (a new disk) and is down while v3 is deployed; the others run v3.
        let node = fleet.nodes[2].id
        await fleet.stopAgent(node)
        try FileManager.default.removeItem(atPath: fleet.directory.file("agents/\(node.rawValue)"))
        let plan = try #require(try await rollBack(fleet, wait: false))  // v3
        try await fleet.waitUntil(timeout: .seconds(90), "the others activate v3") {
            fleet.nodes.prefix(2).allSatisfy { fleet.agentState($0.id)?.active == 3 }
        }
        try await waitUntilRelaysGaveUp(on: node, in: plan, fleet)
        let epochBefore = try #require(try await ledgersHead(connection, fleet)?.epoch)
        #expect(try await ledgersHead(connection, fleet)?.version == 3)

        // The ledger stops, gracefully (it hands its lease back), and while it is down someone replays v1's real,
        // signed announcement.
        let ledger = try #require(fleet.ledger)
        ledger.signal(SIGTERM)
        #expect(await ledger.wait(timeout: .seconds(30)) != nil, "the ledger stops")
        try await connection.publish(v1Bytes, subject: NATSSubjects.announce(fleet.fleet))
        try await connection.flush()
        try await fleet.waitUntil(timeout: .seconds(10), "the replay heads the stream") {
            (try? await head(connection, fleet))?.payload == v1Bytes
        }

        // node-3 starts with fresh state and takes v3, the newest real version, not the replayed v1.
        let before = fleet.agentLog(node).count
        try await fleet.startAgent(node)
        func sinceStart() -> String { String(fleet.agentLog(node).dropFirst(before)) }
        try await fleet.waitUntil(timeout: .seconds(60), "node-3 accepts v3 while the replay heads the stream") {
            fleet.agentState(node)?.highestAccepted == 3
        }
        #expect(try await head(connection, fleet)?.payload == v1Bytes, "no ledger has repaired the head")
        #expect(sinceStart().contains("catching up from the stream"), "\(sinceStart())")
        #expect(!sinceStart().contains("accepted announcement of v1"), "\(sinceStart())")

        // The ledger restarts: the replay at the head raises the alarm, and its current announcement (v3, signed
        // again under its new epoch) heads the stream again.
        try await fleet.startLedger()
        func sinceRestart() -> String { fleet.ledgerLog.components(separatedBy: "won the ledger lease").last ?? "" }
        try await fleet.waitUntil(timeout: .seconds(30), "the restarted ledger raises the alarm") {
            sinceRestart().contains("alarm: an older announcement was published (a replay? it was of v1)")
        }
        // Polls the stream's head (pacing 100 ms, up to a deadline): the event is the head changing.
        let deadline = ContinuousClock.now + .seconds(30)
        while try await ledgersHead(connection, fleet)?.version != 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        let repaired = try #require(try await ledgersHead(connection, fleet))
        #expect(repaired.version == 3 && repaired.epoch > epochBefore, "v3 under the new epoch heads the stream: \(repaired)")
        #expect(try await statusAlarms(fleet).contains("replay"))
        let text = try await fleet.benctl(["status"]).stdout
        #expect(text.contains("ALARM") && text.contains("replay") && text.contains("it was of v1"), "\(text)")
        let audited = try await auditEntries(fleet, kind: "replay")
        #expect(audited.count == 1, "\(audited)")
        #expect(audited.first?["detail"]?["check"]?.stringValue == "start", "\(audited)")

        // node-3 fetches v3 from the ledger's store and runs it; its signed ack makes v3 active.
        try await fleet.waitUntil(timeout: .seconds(90), "node-3 activates v3 and v3 is active") {
            guard fleet.agentState(node)?.active == 3 else { return false }
            return (try? await fleet.status(3).status) == "active"
        }
        #expect(!sinceStart().contains("accepted announcement of v1"), "\(sinceStart())")
        #expect(try await fleet.benctl(["log", "--verify"]).status == 0)
        await connection.close()
    }
}
