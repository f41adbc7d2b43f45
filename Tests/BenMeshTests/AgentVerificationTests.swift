import BenCore
import BenCrypto
import BenNATS
import BenTestKit
import Foundation
import Testing

/// An agent acts only on announcements it can verify (DESIGN §5), shown with a real ben-agent process fed
/// crafted announcements over NATS.
@Suite(.serialized) struct AgentVerificationTests {
    func now() -> Timestamp { Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)) }

    /// An announcement issued two hours ago that expires `expiresIn` from now (negative: already expired).
    func announcement(
        _ fleet: LocalFleet, version: Version, fleetName: String? = nil, expiresIn: Duration = .seconds(3600), epoch: UInt64 = 0
    ) -> Announcement {
        let key = Key(digest: [UInt8](repeating: 3, count: 32))
        let t = now()
        return Announcement(
            fleet: FleetName(fleetName ?? fleet.fleet.rawValue)!, version: version, manifest: key, manifestSize: 100, plan: key,
            topology: key, issuedAt: t - .seconds(7200), deadline: t + expiresIn - .seconds(30), expires: t + expiresIn,
            ledger: "127.0.0.1:\(fleet.ledgerPort)", epoch: epoch)
    }

    func publish(_ fleet: LocalFleet, _ bytes: [UInt8]) async throws {
        let connection = try await fleet.connectNATS(as: .ledger)
        try await connection.publish(bytes, subject: NATSSubjects.announce(fleet.fleet))
        try await connection.flush()
        await connection.close()
    }

    func agentRunning() async throws -> (LocalFleet, NodeID) {
        let fleet = try await LocalFleet(nodes: 1)
        try await fleet.startAgents()
        let node = fleet.nodes[0].id
        try await fleet.waitUntilReady([node])
        return (fleet, node)
    }

    @Test func anAgentRefusesForgedAlteredForeignAndExpiredAnnouncementsAndAcceptsAValidOne() async throws {
        let (fleet, node) = try await agentRunning()
        let stranger = SigningKey.generate()
        // Forged: signed by a key the agent does not trust.
        try await publish(fleet, stranger.envelope(announcement(fleet, version: 5), context: .announce).canonicalBytes)
        // Altered: the ledger's signature over other content.
        var altered = fleet.ledgerKey.envelope(announcement(fleet, version: 6), context: .announce)
        altered.signed = .object(altered.signed.objectValue!.merging(["version": .int(9)]) { $1 })
        try await publish(fleet, altered.canonicalBytes)
        // Another fleet, properly signed.
        try await publish(fleet, fleet.ledgerKey.envelope(announcement(fleet, version: 7, fleetName: "elsewhere"), context: .announce).canonicalBytes)
        // Expired beyond the 5 minutes' grace for clock skew, properly signed.
        try await publish(fleet, fleet.ledgerKey.envelope(announcement(fleet, version: 8, expiresIn: .seconds(-600)), context: .announce).canonicalBytes)
        // Signed with the wrong context (an ack signature is never an announcement signature).
        try await publish(fleet, fleet.ledgerKey.envelope(announcement(fleet, version: 10), context: .ack).canonicalBytes)
        try await fleet.waitUntil(timeout: .seconds(10), "all five are refused") {
            fleet.agentLog(node).components(separatedBy: "refused announcement").count - 1 >= 5
        }
        let log = fleet.agentLog(node)
        #expect(log.contains("refused announcement of v5: signature: signed by \(stranger.keyID), none of which is a trusted key"))
        #expect(log.contains("refused announcement of v9: signature: the signature by \(fleet.ledgerKey.keyID) does not match"))
        #expect(log.contains("refused announcement of v7: it is for fleet elsewhere"))
        #expect(log.contains("refused announcement of v8: expired at"))
        #expect(log.contains("refused announcement of v10: signature"))
        #expect(fleet.agentState(node) == nil || fleet.agentState(node)?.highestAccepted == Version.none, "nothing was accepted")

        // A valid one is accepted, and the acceptance is durable before anything else happens.
        try await publish(fleet, fleet.ledgerKey.envelope(announcement(fleet, version: 12), context: .announce).canonicalBytes)
        try await fleet.waitUntil(timeout: .seconds(10), "v12 is accepted") { fleet.agentState(node)?.highestAccepted == 12 }
        #expect(fleet.agentState(node)?.active == Version.none, "accepted is not activated")

        // Anti-rollback survives a restart: an older version is refused by the restarted agent.
        await fleet.stopAgent(node, signal: SIGKILL)
        try await fleet.startAgent(node)
        try await fleet.waitUntilReady([node], times: 2)
        try await publish(fleet, fleet.ledgerKey.envelope(announcement(fleet, version: 11), context: .announce).canonicalBytes)
        try await fleet.waitUntil(timeout: .seconds(10), "v11 is refused as a rollback") {
            fleet.agentLog(node).contains("refused announcement of v11: older than v12")
        }
        #expect(fleet.agentState(node)?.highestAccepted == 12)
    }

    @Test func anAgentRefusesAVersionNotNewerThanTheOneItRuns() async throws {
        let fleet = try await LocalFleet(nodes: 2)
        try await fleet.startLedger()
        try await fleet.startAgents()
        let v1 = try await fleet.stage(ProcessRunner.repositoryRoot() + "/examples/intent")
        #expect(try await fleet.benctl(["deploy", "\(v1.rawValue)", "--wait", "--timeout", "30"]).status == 0)
        let node = fleet.nodes[0].id
        #expect(fleet.agentState(node)?.active == v1)
        // A replay under the serving ledger's own epoch (an older one is refused before its version is looked at).
        let state = try JSONParser.parse(try String(contentsOfFile: fleet.directory.file("agents/\(node)/agent.state"), encoding: .utf8))
        let epoch = UInt64(state["highest_epoch"]?.intValue ?? 0)
        try await publish(fleet, fleet.ledgerKey.envelope(announcement(fleet, version: v1, epoch: epoch), context: .announce).canonicalBytes)
        try await fleet.waitUntil(timeout: .seconds(10), "the replay of v1 is refused") {
            fleet.agentLog(node).contains("refused announcement of v1: not newer than the running v1")
        }
        #expect(fleet.agentState(node)?.active == v1)
    }
}
