import BenCore
import BenCrypto
import BenNATS
import BenTestKit
import Foundation
import Synchronization
import Testing

/// Issue 13 item 5: one ledger per fleet. Two real ledgers on one nats-server: the second refuses while the first
/// holds the lease, a standby takes over only once the lease has lapsed, and nothing from the old epoch is
/// accepted afterwards, by the agents or by the ledger.
@Suite(.serialized) struct LedgerLeaseTests {
    let intent = ProcessRunner.repositoryRoot() + "/examples/intent"
    static let ttl = 3

    /// Every value the lease entry was given, in the order the server stored them, with its revision, the
    /// ledger that wrote it and when the server stored it (the server's clock): a key-value watch, which skips no
    /// stored write.
    final class LeaseHistory: Sendable {
        struct Value: Sendable {
            var revision: UInt64
            var ledger: String
            var storedAt: Int64
        }

        let values = Mutex<[Value]>([])
        var all: [Value] { values.withLock { $0 } }
    }

    func watchLease(_ fleet: LocalFleet) async throws -> (NATSConnection, LeaseHistory, Task<Void, Never>) {
        let connection = try await fleet.connectNATS(as: .ledger)
        let kv = try #require(try await connection.jetStream().keyValue(bucket: NATSSubjects.ledgerBucket(fleet.fleet)))
        let writes = try await kv.watch(NATSSubjects.leaseKey)
        let history = LeaseHistory()
        let task = Task {
            for await entry in writes {
                guard let json = try? JSONParser.parse(entry.value), let ledger = json["ledger"]?.stringValue else { continue }
                history.values.withLock { $0.append(.init(revision: entry.revision, ledger: ledger, storedAt: entry.createdNanoseconds)) }
            }
        }
        return (connection, history, task)
    }

    func leaseArguments(_ name: String, standby: Bool = false) -> [String] {
        ["--silent-after", "6", "--name", name, "--lease-ttl", "\(Self.ttl)"] + (standby ? ["--standby"] : [])
    }

    @Test func aSecondLedgerRefusesWhileTheFirstHoldsTheLeaseAndAStandbyTakesOverOnlyAfterItLapses() async throws {
        let fleet = try await LocalFleet(nodes: 1)
        let ports = try FreePorts.take(2)
        let first = try await fleet.launchLedger(seedPort: fleet.ledgerPort, arguments: leaseArguments("ledger-a"), log: "a.log")
        try await fleet.waitUntil(timeout: .seconds(20), "ledger-a serves") { first.log.contains("ledger ready") }
        #expect(try await fleet.benctl(["versions"]).status == 0)
        let (connection, writes, watcher) = try await watchLease(fleet)
        defer { watcher.cancel() }

        // A second ledger for the same fleet, without --standby: one line naming the holder and until when, exit 1.
        let second = try await fleet.launchLedger(seedPort: ports[0], arguments: leaseArguments("ledger-b"), data: fleet.directory.file("b"), log: "b.log")
        let status = try #require(await second.wait(timeout: .seconds(20)), "the second ledger exits")
        #expect(status == 1)
        let refusal = second.log.split(separator: "\n").filter { $0.contains("is served by") }
        #expect(refusal.count == 1, "\(second.log)")
        #expect(refusal.first?.contains("fleet test is served by ledger ledger-a (seed 127.0.0.1:\(fleet.ledgerPort), epoch ") == true, "\(second.log)")
        #expect(refusal.first?.contains("whose lease runs until 20") == true && refusal.first?.contains("--standby") == true, "\(second.log)")
        #expect(!second.log.contains("ledger ready"))

        // A standby waits while ledger-a renews.
        let standby = try await fleet.launchLedger(
            seedPort: ports[1], arguments: leaseArguments("ledger-c", standby: true), data: fleet.directory.file("c"), log: "c.log")
        try await fleet.waitUntil(timeout: .seconds(20), "ledger-c stands by") { standby.log.contains("standing by") }
        #expect(standby.log.contains("holder=ledger ledger-a"), "\(standby.log)")
        // Several renewals by ledger-a while ledger-c waits, and ledger-c writes nothing.
        let renewalsSeen = writes.all.count
        try await fleet.waitUntil(timeout: .seconds(20), "ledger-a renews twice more") { writes.all.count >= renewalsSeen + 2 }
        #expect(writes.all.allSatisfy { $0.ledger == "ledger-a" })
        #expect(standby.isRunning && !standby.log.contains("ledger ready"))

        // Kill the holder. The standby takes over, and only after the lease has lapsed: the server stored its
        // winning write at least a TTL after ledger-a's last renewal (both on the server's clock).
        first.signal(SIGKILL)
        _ = await first.wait(timeout: .seconds(10))
        try await fleet.waitUntil(timeout: .seconds(30), "ledger-c serves") { standby.log.contains("ledger ready") }
        try await fleet.waitUntil(timeout: .seconds(10), "the test saw ledger-c's lease") { writes.all.last?.ledger == "ledger-c" }
        let all = writes.all
        let lastOfA = try #require(all.last { $0.ledger == "ledger-a" })
        let won = try #require(all.first { $0.ledger == "ledger-c" })
        let gapMilliseconds = (won.storedAt - lastOfA.storedAt) / 1_000_000
        #expect(gapMilliseconds >= Int64(Self.ttl * 1000), "ledger-c won \(gapMilliseconds) ms after ledger-a's last renewal; the TTL is \(Self.ttl) s")
        #expect(won.revision == lastOfA.revision + 1, "nothing was written between ledger-a's last renewal and ledger-c's win")
        #expect(standby.log.contains("won the ledger lease"))
        #expect(standby.log.contains("epoch=\(won.revision)"), "the winning write's revision is the epoch: \(standby.log)")
        let epochA = try #require(all.first?.revision)
        let epochC = won.revision
        #expect(epochC > epochA, "a new holder's epoch is higher")
        #expect(standby.log.contains("won the ledger lease"))
        // The operator API is answered again, by ledger-c, and a state-changing answer carries its epoch.
        let applied = try await fleet.benctl(["topology", "apply", fleet.topologyPath, "--json"])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(try JSONParser.parse(applied.stdout)["epoch"]?.intValue == Int64(epochC), "\(applied.stdout)")
        await connection.close()
    }

    @Test func aPausedHolderThatLostTheLeaseIsFencedOffAndStopsServing() async throws {
        let fleet = try await LocalFleet(nodes: 2)
        let seedB = try FreePorts.take(1)[0]
        // Both ledgers share the data directory, as a failover pair on shared storage does: the standby reads the
        // state only once it holds the lease.
        let a = try await fleet.launchLedger(seedPort: fleet.ledgerPort, arguments: leaseArguments("ledger-a"), log: "a.log")
        try await fleet.waitUntil(timeout: .seconds(20), "ledger-a answers") { (try? await fleet.benctl(["versions"]))?.status == 0 }
        try await fleet.startAgents()
        try await ShapedFleet.waitListening(fleet, fleet.nodes.map(\.id))
        let v1 = try await fleet.stage(intent)
        let deployed = try await fleet.benctlInBackground(["deploy", "\(v1.rawValue)", "--wait", "--timeout", "30", "--json"])
        #expect(deployed.status == 0, "\(deployed.stdout)\(deployed.stderr)")
        let epochA = try #require(fleet.agentEpoch(fleet.nodes[0].id))
        #expect(epochA > 0)
        #expect(fleet.nodes.allSatisfy { fleet.agentEpoch($0.id) == epochA }, "every agent holds ledger-a's epoch")
        // The announcement ledger-a signed, for the replay below.
        let connection = try await fleet.connectNATS(as: .ledger)
        let stream = NATSSubjects.announceStream(fleet.fleet)
        let subject = NATSSubjects.announce(fleet.fleet)
        let oldEnvelope = try #require(try await connection.jetStream().lastMessage(stream: stream, subject: subject)).payload
        let oldAnnouncement = try SignedEnvelope.decode(oldEnvelope, document: "announcement", maxBytes: 8192).document(as: Announcement.self)
        #expect(oldAnnouncement.epoch == epochA)

        let b = try await fleet.launchLedger(seedPort: seedB, arguments: leaseArguments("ledger-b", standby: true), log: "b.log")
        try await fleet.waitUntil(timeout: .seconds(20), "ledger-b stands by") { b.log.contains("standing by") }
        // Pause the holder: it neither renews nor knows it.
        a.signal(SIGSTOP)
        try await fleet.waitUntil(timeout: .seconds(30), "ledger-b serves") { b.log.contains("ledger ready") }
        // ledger-b signs the latest announcement again under its epoch: every agent learns the new epoch.
        try await fleet.waitUntil(timeout: .seconds(20), "the agents hold ledger-b's epoch") {
            fleet.nodes.allSatisfy { (fleet.agentEpoch($0.id) ?? 0) > epochA }
        }
        let epochB = try #require(fleet.agentEpoch(fleet.nodes[0].id))

        // ledger-b serves: a new version (v1's content as v2) is deployed under its epoch.
        let rolled = try await fleet.benctlInBackground(["rollback", "--to", "\(v1.rawValue)", "--timeout", "30", "--json"])
        #expect(rolled.status == 0, "\(rolled.stdout)\(rolled.stderr)")
        #expect(try JSONParser.parse(rolled.stdout)["epoch"]?.intValue == Int64(epochB), "\(rolled.stdout)")
        try await fleet.waitUntil(timeout: .seconds(30), "v2 is active") { (try? await fleet.status(2).status) == "active" }

        // Resume the old holder: it finds its lease gone, stops serving and exits non-zero; it answers nothing.
        a.signal(SIGCONT)
        let exit = try #require(await a.wait(timeout: .seconds(30)), "ledger-a exits once it finds its lease gone")
        #expect(exit != 0)
        #expect(a.log.contains("lost the ledger lease"), "\(a.log)")
        #expect(a.log.contains("taken over by ledger ledger-b") || a.log.contains("epoch \(epochB)"), "\(a.log)")
        let versions = try JSONParser.parse(try await fleet.benctl(["versions", "--json"]).stdout)
        #expect(versions["active"]?.intValue == 2, "ledger-b answers: \(versions)")

        // Something signed under ledger-a's epoch appears anyway (a replay, or a write that was in flight): a
        // version above anything deployed, so only the epoch can refuse it.
        var stale = oldAnnouncement
        stale.version = 9
        stale.issuedAt = oldAnnouncement.issuedAt
        try await connection.publish(fleet.ledgerKey.envelope(stale, context: .announce).canonicalBytes, subject: subject)
        try await connection.flush()
        for node in fleet.nodes.map(\.id) {
            try await fleet.waitUntil(timeout: .seconds(20), "\(node) refuses the stale announcement") {
                fleet.agentLog(node).contains("refused announcement of v9: epoch \(epochA) is older than epoch \(epochB)")
            }
            #expect(fleet.agentState(node)?.highestAccepted == 2)
            #expect(fleet.agentState(node)?.active == 2)
        }
        // And ledger-b puts its own word back as the stream's latest.
        func latest() async throws -> Announcement? {
            guard let last = try await connection.jetStream().lastMessage(stream: stream, subject: subject) else { return nil }
            return try SignedEnvelope.decode(last.payload, document: "announcement", maxBytes: 8192).document(as: Announcement.self)
        }
        // Polls the stream's head (pacing 100 ms, up to a deadline): the event is the head changing.
        let deadline = ContinuousClock.now + .seconds(20)
        while try await latest()?.epoch != epochB, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(try await latest()?.epoch == epochB)
        #expect(try await latest()?.version == 2)
        #expect(b.log.contains("alarm: an announcement of v9 from an older epoch (\(epochA)) was published"), "\(b.log)")
        await connection.close()
    }
}
