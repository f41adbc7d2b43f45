import BenCore
import BenNATS
import BenTestKit
import Foundation
import Testing

/// The ledger's revocations kept by JetStream (issue 16, item 3): a node that starts after a revocation went out reads
/// it back from the revocation stream, and a restarted ledger puts what it keeps back on the stream (a lost or purged
/// stream), each revocation once however often it restarts. Real nats-server, ledger and agents.
@Suite(.serialized) struct SignedStreamTests {
    let intent = ProcessRunner.repositoryRoot() + "/examples/intent"

    /// The revocation stream's messages, as the ledger's credentials read them.
    static func stored(_ connection: NATSConnection, _ fleet: LocalFleet) async -> [[UInt8]]? {
        try? await connection.jetStream().messages(
            stream: NATSSubjects.revokeStream(fleet.fleet), subject: NATSSubjects.revoke(fleet.fleet), limit: 64
        ).map(\.payload)
    }

    @Test func aLateAgentReadsTheRevocationBackAndARestartedLedgerRepublishesItOnce() async throws {
        let fleet = try await LocalFleet(nodes: 2, rackSize: 2)
        // No gossip: the stream is the only way a node that was not running hears of the revocation.
        fleet.agentArguments += ["--gossip", "off"]
        fleet.ledgerArguments += ["--gossip", "off"]
        let late = fleet.nodes[1].id
        try await fleet.startLedger()
        try await fleet.startAgents([fleet.nodes[0].id])
        try await fleet.waitUntilReady([fleet.nodes[0].id])
        _ = try await fleet.stage(intent)
        let revoked = fleet.nodes[0]
        let revoke = try await fleet.benctl(["revoke", "\(revoked.id)", "--reason", "decommissioned"])
        #expect(revoke.status == 0, "\(revoke.stdout)\(revoke.stderr)")

        let connection = try await fleet.connectNATS(as: .ledger)
        defer { Task { await connection.close() } }
        var first: [UInt8] = []
        try await fleet.waitUntil(timeout: .seconds(20), "the revocation is on the stream") {
            guard let stored = await Self.stored(connection, fleet), stored.count == 1 else { return false }
            first = stored[0]
            return true
        }

        // A node that was not running reads it back when it starts.
        try await fleet.startAgent(late)
        try await fleet.waitUntil(timeout: .seconds(30), "\(late) takes the revocation from the stream") {
            fleet.agentLog(late).contains("key revoked by the ledger")
        }
        #expect(fleet.agentLog(late).contains("via=stream"), "\(fleet.agentLog(late).suffix(2000))")

        // The stream is lost (purged); a restarted ledger puts the revocation it keeps back, byte for byte.
        await fleet.killLedger()
        try await connection.jetStream().purgeStream(NATSSubjects.revokeStream(fleet.fleet))
        #expect(await Self.stored(connection, fleet)?.count == 0)
        try await fleet.startLedger()
        try await fleet.waitUntil(timeout: .seconds(30), "the restarted ledger republishes it") {
            await Self.stored(connection, fleet) == [first]
        }
        // Restarted again with the stream intact: nothing is stored twice.
        await fleet.killLedger()
        try await fleet.startLedger()
        try await fleet.waitUntil(timeout: .seconds(30), "the ledger checked the stream again and found it whole") {
            fleet.ledgerLog.contains("republished=0")
        }
        #expect(await Self.stored(connection, fleet) == [first], "still one copy")
    }
}
