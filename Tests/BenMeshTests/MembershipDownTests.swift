import BenCore
import BenTestKit
import Foundation
import Testing

/// Issue 16, item 1: the ledger takes `down` from membership rather than from raw heartbeat silence. A node that
/// dies is planned around once membership declares it dead, while its last heartbeat is still fresh.
@Suite(.serialized) struct MembershipDownTests {
    let intent = ProcessRunner.repositoryRoot() + "/examples/intent"

    @Test func aNodeMembershipDeclaredDeadIsPlannedAroundWhileItsLastHeartbeatIsStillFresh() async throws {
        let fleet = try await LocalFleet(nodes: 4, rackSize: 2)
        // Heartbeat silence alone would take ten minutes to call anyone down: whatever is planned around sooner,
        // membership decided.
        fleet.ledgerArguments = ["--silent-after", "600"]
        for node in fleet.nodes { fleet.nodeArguments[node.id] = ["--topology", fleet.topologyPath] }
        try await fleet.startLedger()
        try await fleet.startAgents()
        try await fleet.waitUntilReady()
        try await GossipTests.waitGossiping(fleet, fleet.nodes.map(\.id))
        _ = try await fleet.benctl(["topology", "apply", fleet.topologyPath])
        try await fleet.waitUntil(timeout: .seconds(60), "the ledger hears every member alive") {
            let members = await GossipTests.members(fleet)
            return members.count == fleet.nodes.count && members.values.allSatisfy { $0.status == "alive" }
        }

        let victim = fleet.nodes[3].id
        await fleet.stopAgent(victim, signal: SIGKILL)
        let killed = ContinuousClock.now
        try await fleet.waitUntil(timeout: .seconds(60), "the ledger holds \(victim) dead") {
            await GossipTests.members(fleet)[victim]?.status == "dead"
        }
        print("\(victim) declared dead \(ContinuousClock.now - killed) after SIGKILL (heartbeat silence: 600 s)")

        let v1 = try await fleet.stage(intent)
        let deploy = try await fleet.benctl(["deploy", "\(v1.rawValue)", "--json", "--timeout", "15"])
        #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
        let excluded = try JSONParser.parse(deploy.stdout)["excluded"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(excluded.count == 1 && excluded.first?.contains("\(victim)") == true, "the plan left out \(victim) alone: \(excluded)")
        try await fleet.waitUntil(timeout: .seconds(60), "v1 is decided") {
            let status = try? await fleet.status(v1).status
            return status == "incomplete" || status == "active"
        }
        let status = try await fleet.status(v1)
        #expect(status.status == "incomplete" && status.missing.map(\.node) == [victim], "\(status.summary)")
        for missing in status.missing {
            #expect(missing.reason.code == .down && missing.reason.text.contains("declared dead by gossip"), "\(missing.node): \(missing.reason)")
        }
    }
}
