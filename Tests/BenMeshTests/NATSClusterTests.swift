import BenCore
import BenNATS
import BenTestKit
import Foundation
import Testing

/// Issue 13 item 10: Ben on a real three-server nats-server cluster. The ledger keeps its announcement stream and
/// its lease bucket on all three (`--replicas 3`) and never lowers that; one server is killed in the middle of a
/// rollout and restarted, the rollout completes with every signed ack, and every server holds the same
/// announcements.
@Suite(.serialized) struct NATSClusterTests {
    @Test func aRolloutSurvivesAClusterServerKilledMidwayAndEveryServerHoldsTheSameAnnouncements() async throws {
        let cluster = try await NATSCluster.start(size: 3)
        let shaped = try await ShapedFleet.start(nodes: 6, payload: 4 << 20, cluster: cluster) { fleet in
            fleet.ledgerArguments += ["--replicas", "3"]
            // A stream leader's re-election takes seconds: the lease outlasts it.
            fleet.leaseArguments = ["--lease-ttl", "20", "--standby"]
        }
        let fleet = shaped.fleet
        let stream = NATSSubjects.announceStream(fleet.fleet)
        let leaseStream = "KV_" + NATSSubjects.ledgerBucket(fleet.fleet)
        let connection = try await fleet.connectNATS(as: .ledger)
        #expect(try await connection.jetStream().streamInfo(stream)?.config.replicas == 3)
        #expect(try await connection.jetStream().streamInfo(leaseStream)?.config.replicas == 3)

        let plan = try await fleet.deploy(shaped.version, ["--timeout", "90"])
        let first = try #require(plan.nodes.map(\.id).first { plan.parent(of: $0, stripe: 0) == nil })
        try await fleet.waitUntil(timeout: .seconds(30), "\(first) holds part of the bundle") {
            let held = fleet.chunksHeld(first, manifest: shaped.manifest)
            return held.have >= 2 && held.have < held.of
        }
        // Kill the server that leads the announcement stream: its replicas must elect another leader.
        let leaderName = try #require(cluster.streamLeader(stream, asSeenBy: 0))
        let victim = try #require(cluster.servers.firstIndex { $0.name == leaderName })
        cluster.servers[victim].kill()
        let heldAtKill = fleet.nodes.map { fleet.chunksHeld($0.id, manifest: shaped.manifest) }
        #expect(heldAtKill.contains { $0.have < $0.of }, "killed before every node had the bundle")
        try await fleet.waitUntil(timeout: .seconds(30), "another server leads the announcement stream") {
            let others = cluster.servers.indices.filter { $0 != victim }
            return others.contains { cluster.streamLeader(stream, asSeenBy: $0).map { $0 != leaderName } ?? false }
        }
        try await cluster.servers[victim].start()

        let status = try await shaped.waitDecided(timeout: .seconds(120))
        #expect(status.status == "active", "\(status.missing)")
        // No ack lost: the ledger verified a signed ack from every node.
        try await shaped.expectOutcome(missing: [])
        #expect(!fleet.ledgerLog.contains("lost the ledger lease"), "the ledger kept its lease through the failover")

        // Every server, the restarted one included, holds the same announcement stream (its history: the ledger may
        // have published the version more than once): asked one by one.
        try await fleet.waitUntil(timeout: .seconds(60), "the three servers hold the same announcements") {
            let states = cluster.servers.indices.map { cluster.streamState(stream, on: $0) }
            return states.allSatisfy { $0 != nil && $0 == states[0] } && (states[0]?.messages ?? 0) >= 1
        }
        let states = cluster.servers.indices.compactMap { cluster.streamState(stream, on: $0) }
        #expect(states.count == 3)
        let latest = try #require(try await connection.jetStream().lastMessage(stream: stream, subject: NATSSubjects.announce(fleet.fleet)))
        #expect(states.allSatisfy { $0.lastSequence == latest.sequence }, "\(states) vs the latest at \(latest.sequence)")
        let announcement = try SignedEnvelope.decode(latest.payload, document: "announcement", maxBytes: 8192).document(as: Announcement.self)
        #expect(announcement.version == shaped.version)

        // A ledger restarted with fewer replicas does not lower them.
        fleet.ledger?.signal(SIGTERM)
        _ = await fleet.ledger?.wait(timeout: .seconds(20))
        fleet.ledgerArguments = ["--silent-after", "6", "--upload-limit", ShapedFleet.rate, "--replicas", "1"]
        try await fleet.startLedger()
        #expect(try await connection.jetStream().streamInfo(stream)?.config.replicas == 3)
        #expect(try await connection.jetStream().streamInfo(leaseStream)?.config.replicas == 3)
        #expect(fleet.ledgerLog.contains("the announcement stream keeps more replicas than --replicas; left as it is"))
        await connection.close()
    }
}
