import BenCore
import BenTestKit
import Foundation
import Testing

/// Issue 7, item 1: the ledger and nats-server go away in the middle of a rollout. Nothing is lost: the ledger
/// resumes from SQLite and seeds again, nodes say what they hold so only the rest is sent, and every ack still
/// reaches it; a nats-server restart costs the data plane nothing.
@Suite(.serialized) struct ControlPlaneFailureTests {
    @Test func aLedgerKilledAndRestartedMidRolloutResumesAndEveryNodeActivates() async throws {
        let shaped = try await ShapedFleet.start()
        let fleet = shaped.fleet
        let plan = try await fleet.deploy(shaped.version, ["--timeout", "60"])
        // Mid-rollout: a first-level node holds part of the bundle.
        let first = try #require(plan.nodes.map(\.id).first { plan.parent(of: $0, stripe: 0) == nil })
        try await fleet.waitUntil(timeout: .seconds(30), "\(first) holds part of the bundle") {
            let held = fleet.chunksHeld(first, manifest: shaped.manifest)
            return held.have >= 2 && held.have < held.of
        }
        await fleet.killLedger()
        let heldAtKill = fleet.nodes.map { fleet.chunksHeld($0.id, manifest: shaped.manifest) }
        #expect(heldAtKill.contains { $0.have < $0.of }, "killed before every node had the bundle")
        try await fleet.startLedger()
        #expect(try await fleet.status(shaped.version).status != "incomplete", "the rollout survived the restart")
        let status = try await shaped.waitDecided()
        #expect(status.status == "active")
        try await shaped.expectOutcome(missing: [])
        #expect(fleet.ledgerLog.contains("resuming after a restart"))
    }

    @Test func aNATSServerRestartedMidRolloutCostsNothing() async throws {
        let shaped = try await ShapedFleet.start()
        let fleet = shaped.fleet
        let plan = try await fleet.deploy(shaped.version, ["--timeout", "60"])
        let first = try #require(plan.nodes.map(\.id).first { plan.parent(of: $0, stripe: 0) == nil })
        try await fleet.waitUntil(timeout: .seconds(30), "\(first) holds part of the bundle") {
            let held = fleet.chunksHeld(first, manifest: shaped.manifest)
            return held.have >= 2 && held.have < held.of
        }
        try await fleet.nats.restart()
        let heldAtRestart = fleet.nodes.map { fleet.chunksHeld($0.id, manifest: shaped.manifest) }
        #expect(heldAtRestart.contains { $0.have < $0.of }, "restarted before every node had the bundle")
        let status = try await shaped.waitDecided()
        #expect(status.status == "active")
        try await shaped.expectOutcome(missing: [])
        // The control plane is whole again: every agent's heartbeat reaches the ledger after the restart.
        try await fleet.waitUntil(timeout: .seconds(20), "drift shows every node on the new version") {
            guard let drift = try? JSONParser.parse(await fleet.benctl(["status", "--drift", "--json"]).stdout) else { return false }
            return drift["fleet_version"]?.intValue == Int64(shaped.version.rawValue) && drift["differing"]?.arrayValue?.isEmpty == true
                && drift["silent"]?.arrayValue?.isEmpty == true
        }
    }
}
