import BenCore
import BenCrypto
import BenNATS
import BenTestKit
import Foundation
import Testing

/// The ledger's proof of activation, with no agents: this test plays the fleet. It signs acks with the node keys
/// the topology lists and sends aggregates on `ben.<fleet>.ack`, the same ingest path the peer links feed.
@Suite(.serialized) struct LedgerProofTests {
    let intent = ProcessRunner.repositoryRoot() + "/examples/intent"

    /// A fleet of four (no agents), its ledger, and v1 staged and deployed with a short deadline.
    func deployed(timeout: Int = 30) async throws -> (LocalFleet, Version, Key) {
        let fleet = try await LocalFleet(nodes: 4)
        try await fleet.startLedger()
        let version = try await fleet.stage(intent)
        let deploy = try await fleet.benctl(["deploy", "\(version.rawValue)", "--timeout", "\(timeout)"])
        #expect(deploy.status == 0, "\(deploy.stderr)")
        return (fleet, version, try await fleet.status(version).manifest)
    }

    func ack(_ fleet: LocalFleet, _ node: LocalFleet.Node, _ version: Version, manifest: Key, signer: SigningKey? = nil) -> SignedEnvelope {
        let ack = Ack(
            fleet: fleet.fleet, version: version, node: node.id, manifest: manifest, status: .active, reason: "",
            at: Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)))
        return (signer ?? node.key).envelope(ack, context: .ack)
    }

    func send(_ fleet: LocalFleet, _ acks: [SignedEnvelope], version: Version, relay: NodeID = "node-1") async throws {
        // As the relay: only nodes may publish acks.
        let connection = try await fleet.connectNATS(as: .node(relay))
        let aggregate = Aggregate(fleet: fleet.fleet, version: version, relay: relay, acks: acks, missing: [], orphaned: true)
        try await connection.publish(aggregate.canonicalBytes, subject: NATSSubjects.ack(fleet.fleet))
        try await connection.flush()
        await connection.close()
    }

    @Test func acksWithTheWrongKeyForAnotherManifestOrAnOlderVersionAreRejectedAndNoneCounts() async throws {
        let (fleet, v1, m1) = try await deployed()
        try await send(fleet, fleet.nodes.map { ack(fleet, $0, v1, manifest: m1) }, version: v1)
        try await fleet.waitUntil(timeout: .seconds(10), "v1 is active") { (try? await fleet.status(v1).status) == "active" }

        // v2: other content, so another manifest.
        let changed = try TemporaryDirectory()
        _ = try await ProcessRunner.run("/bin/cp", ["-r", intent + "/.", changed.path])
        let edge = changed.file("policies/edge.yaml")
        try (try String(contentsOfFile: edge, encoding: .utf8)).replacingOccurrences(of: "1000000u", with: "2000000u")
            .write(toFile: edge, atomically: true, encoding: .utf8)
        let staged = try await fleet.benctl(["stage", changed.path, "--json"])
        let v2 = Version(UInt64(try JSONParser.parse(staged.stdout)["version"]!.intValue!))
        #expect(try await fleet.benctl(["deploy", "\(v2.rawValue)", "--timeout", "30"]).status == 0)
        let m2 = try await fleet.status(v2).manifest

        let stranger = SigningKey.generate()
        try await send(
            fleet,
            [
                ack(fleet, fleet.nodes[0], v2, manifest: m2, signer: stranger),  // the wrong key
                ack(fleet, fleet.nodes[1], v2, manifest: m1),  // another manifest
                ack(fleet, fleet.nodes[2], v1, manifest: m1),  // an older version
            ], version: v2)
        try await fleet.waitUntil(timeout: .seconds(10), "both rejections are logged") {
            fleet.ledgerLog.contains("rejected ack from node-1") && fleet.ledgerLog.contains("rejected ack from node-2")
        }
        let status = try await fleet.status(v2)
        #expect(status.active == 0, "none of them counts")
        #expect(status.status == "deploying")
        // The right acks make it active.
        try await send(fleet, fleet.nodes.map { ack(fleet, $0, v2, manifest: m2) }, version: v2)
        try await fleet.waitUntil(timeout: .seconds(10), "v2 is active") { (try? await fleet.status(v2).status) == "active" }
    }

    @Test func duplicateAcksAreHarmless() async throws {
        let (fleet, v1, m1) = try await deployed()
        let first = ack(fleet, fleet.nodes[0], v1, manifest: m1)
        try await send(fleet, [first, first, first], version: v1)
        try await send(fleet, [first], version: v1)
        try await fleet.waitUntil(timeout: .seconds(10), "one ack counted") { (try? await fleet.status(v1).active) == 1 }
        #expect(try await fleet.status(v1).active == 1)
        try await send(fleet, fleet.nodes.map { ack(fleet, $0, v1, manifest: m1) } + [first], version: v1)
        try await fleet.waitUntil(timeout: .seconds(10), "v1 is active") { (try? await fleet.status(v1).status) == "active" }
        #expect(try await fleet.status(v1).active == 4)
    }

    @Test func oneSilentNodeLeavesTheVersionIncompleteNamingThatNode() async throws {
        let (fleet, v1, m1) = try await deployed(timeout: 4)
        try await send(fleet, fleet.nodes.dropLast().map { ack(fleet, $0, v1, manifest: m1) }, version: v1)
        try await fleet.waitUntil(timeout: .seconds(15), "the deadline passes") { (try? await fleet.status(v1).status) == "incomplete" }
        let status = try await fleet.status(v1)
        #expect(status.active == 3)
        #expect(status.missing.map(\.node) == [fleet.nodes[3].id])
        #expect(status.missing.first?.location.isEmpty == false)
        // Scripts can trust the exit code: 2 means incomplete.
        #expect(try await fleet.benctl(["status", "\(v1.rawValue)"]).status == 2)
    }

    @Test func aLedgerKilledMidDeploymentResumesFromSQLiteAndFinalises() async throws {
        let (fleet, v1, m1) = try await deployed()
        try await send(fleet, fleet.nodes.prefix(2).map { ack(fleet, $0, v1, manifest: m1) }, version: v1)
        try await fleet.waitUntil(timeout: .seconds(10), "two acks counted") { (try? await fleet.status(v1).active) == 2 }
        await fleet.killLedger()
        try await fleet.startLedger()
        let resumed = try await fleet.status(v1)
        #expect(resumed.status == "deploying")
        #expect(resumed.active == 2, "acks verified before the kill are still held")
        try await send(fleet, fleet.nodes.suffix(2).map { ack(fleet, $0, v1, manifest: m1) }, version: v1)
        try await fleet.waitUntil(timeout: .seconds(10), "v1 is active") { (try? await fleet.status(v1).status) == "active" }
        let verify = try await fleet.benctl(["log", "--verify"])
        #expect(verify.status == 0, "\(verify.stdout)")
    }

    @Test func aReplayedOlderAnnouncementNeverBecomesCurrent() async throws {
        let (fleet, v1, m1) = try await deployed()
        try await send(fleet, fleet.nodes.map { ack(fleet, $0, v1, manifest: m1) }, version: v1)
        // Replaying an announcement takes the ledger's NATS credentials: nobody else may publish one.
        let connection = try await fleet.connectNATS(as: .ledger)
        let stream = NATSSubjects.announceStream(fleet.fleet)
        let subject = NATSSubjects.announce(fleet.fleet)
        let old = try #require(try await connection.jetStream().lastMessage(stream: stream, subject: subject))
        // A rollback makes v2 the current announcement.
        #expect(try await fleet.benctl(["rollback", "--to", "\(v1.rawValue)", "--timeout", "30"]).status == 0)
        func latestVersion() async throws -> UInt64? {
            guard let last = try await connection.jetStream().lastMessage(stream: stream, subject: subject) else { return nil }
            let envelope = try SignedEnvelope.decode(last.payload, document: "announcement", maxBytes: 8192)
            return try envelope.document(as: Announcement.self).version.rawValue
        }
        // Polls the stream (pacing 100 ms, up to a deadline): the event is its head changing.
        let deadline = ContinuousClock.now + .seconds(10)
        while try await latestVersion() != 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(try await latestVersion() == 2)
        // Someone replays v1's signed announcement.
        try await connection.publish(old.payload, subject: subject)
        try await connection.flush()
        var sawReplay = false
        let until = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < until {
            if fleet.ledgerLog.contains("an older announcement was published") { sawReplay = true }
            if sawReplay, try await latestVersion() == 2 { break }
            try await Task.sleep(for: .milliseconds(100))  // the poll's pacing: the events are the log line and the head
        }
        #expect(sawReplay)
        #expect(try await latestVersion() == 2, "the current announcement is the latest again")
        #expect(try await fleet.status(2).status != "superseded")
        await connection.close()
    }
}
