import BenCore
import BenCrypto
import BenNATS
import BenPeerLink
import BenProtocol
import BenTestKit
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

/// The attacks an outsider found on real processes (issue 15), each replayed against a live fleet: who is on a
/// link is proven, not claimed, and a relay's word about others is its own.
@Suite(.serialized) struct PeerAttackTests {
    static let logger = Logger(label: "attacker")

    /// A fleet of three agents with v1 active, v1's plan, and the announcement envelope of v1 as it sits on the
    /// stream (anyone who can read NATS has it).
    func activeFleet() async throws -> (LocalFleet, Version, [UInt8], Plan) {
        let fleet = try await LocalFleet(nodes: 3)
        try await fleet.startLedger()
        try await fleet.startAgents()
        try await fleet.waitUntilReady()
        let v1 = try await fleet.stage(ProcessRunner.repositoryRoot() + "/examples/intent")
        let plan = try await fleet.deploy(v1, ["--timeout", "60"])
        try await fleet.waitUntil(timeout: .seconds(60), "v1 is active") { (try? await fleet.status(v1).status) == "active" }
        // Any node's NATS credentials read the stream.
        let connection = try await fleet.connectNATS(as: .node(fleet.nodes[0].id))
        let last = try await connection.jetStream().lastMessage(
            stream: NATSSubjects.announceStream(fleet.fleet), subject: NATSSubjects.announce(fleet.fleet))
        await connection.close()
        return (fleet, v1, try #require(last?.payload), plan)
    }

    /// Stages the example intent with one comment changed, so it is a new version, and deploys it.
    func deployAgain(_ fleet: LocalFleet, _ note: String) async throws -> DeploymentStatus {
        let folder = try TemporaryDirectory()
        _ = try await ProcessRunner.run("/bin/cp", ["-r", ProcessRunner.repositoryRoot() + "/examples/intent/.", folder.path])
        let edge = folder.file("policies/edge.yaml")
        try (try String(contentsOfFile: edge, encoding: .utf8) + "\n# \(note)\n").write(toFile: edge, atomically: true, encoding: .utf8)
        let version = try await fleet.stage(folder.path)
        let deploy = try await fleet.benctl(["deploy", "\(version.rawValue)", "--wait", "--timeout", "60"])
        #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)\n\(fleet.diagnostics())")
        return try await fleet.status(version)
    }

    /// Dials `node` claiming to be `claim`, proving `key`, and presenting `credential`; returns why it was
    /// refused (nil if it was let in).
    func dial(_ fleet: LocalFleet, _ node: LocalFleet.Node, as claim: NodeID, key: SigningKey, credential: SignedEnvelope? = nil) async -> String? {
        let security = LinkSecurity(fleet: fleet.fleet, node: claim, key: key, ledgerKeys: TrustedKeys([fleet.ledgerKey.publicKey]))
        if let credential { security.present(credential) }
        do {
            let (channel, _) = try await PeerLink.connect(
                host: "127.0.0.1", port: node.port, target: node.id, settings: PeerLinkSettings(security: security), logger: Self.logger)
            try? await channel.executeThenClose { _, _ in }
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func anImpostorParentIsRefusedBeforeItCanSendAPlanOrReceiveAnAck() async throws {
        let (fleet, v1, announcement, plan) = try await activeFleet()
        let victim = fleet.nodes[0]
        let claimed = fleet.nodes[1].id
        let header = FrameHeader(fleet: fleet.fleet, version: v1)

        // 1. No handshake at all: the old protocol's HELLO, as the outsider sent it.
        let raw = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: victim.port).get()
        var hello = ByteBuffer()
        PeerFrameCodec.encode(.hello(Hello(header: header, purpose: .push, node: claimed, announcement: announcement)), into: &hello)
        _ = try? await raw.writeAndFlush(hello).get()
        try await raw.closeFuture.get()

        // 2. The handshake, claiming another node's id with the attacker's own key. Once the victim's gossip has the
        // topology (fetched after v1), it knows every node's key and says so; before, no assignment binds the key.
        let outsider = SigningKey.generate()
        let topologyRefusal = "its key is not the one the topology lists for \(claimed)"
        let noCredential = await dial(fleet, victim, as: claimed, key: outsider)
        #expect(
            ["presented no ledger-signed assignment", topologyRefusal].contains { noCredential?.contains($0) == true }, "\(noCredential ?? "let in")")

        // 3. The same, with the claimed node's real assignment replayed (assignments travel in subtrees).
        let index = try #require(plan.nodes.firstIndex { $0.id == claimed })
        let real = fleet.ledgerKey.envelope(
            plan.assignment(of: index, key: fleet.nodes[1].key.publicKey.bytes, planKey: BLAKE2b.key(of: plan), epoch: 1), context: .plan)
        let replayed = await dial(fleet, victim, as: claimed, key: outsider, credential: real)
        #expect(["not the one the ledger assigned", topologyRefusal].contains { replayed?.contains($0) == true }, "\(replayed ?? "let in")")

        let log = fleet.agentLog(victim.id)
        #expect(log.contains("not a Ben link handshake"), "the raw HELLO was refused: \(log)")

        // The rollout that follows is untouched: no suspect, every node active.
        let status = try await deployAgain(fleet, "after the impostor")
        #expect(status.status == "active" && status.suspects.isEmpty, "\(status.suspects)")
    }

    /// A member of the fleet that proves its own key but is not named by the victim's signed assignment does not
    /// become its parent: its PLAN is refused, and the victim's ack never goes its way.
    @Test func aMemberThatThePlanDoesNotNameIsNotTakenAsAParent() async throws {
        let (fleet, v1, announcement, plan) = try await activeFleet()
        let victim = fleet.nodes[0]
        let member = fleet.nodes[2]
        let planKey = BLAKE2b.key(of: plan)
        func assignment(_ id: NodeID, parents: [NodeID]) throws -> SignedEnvelope {
            let node = try #require(fleet.nodes.first { $0.id == id })
            return fleet.ledgerKey.envelope(
                Assignment(
                    fleet: fleet.fleet, version: v1, epoch: 1, plan: planKey, node: id, key: node.key.publicKey.bytes, parents: parents,
                    backups: []), context: .plan)
        }
        let memberCredential = try assignment(member.id, parents: [.ledger])
        // The victim's assignment names node-2 as its parent, not node-3.
        let victimAssignment = try assignment(victim.id, parents: [fleet.nodes[1].id])
        let security = LinkSecurity(fleet: fleet.fleet, node: member.id, key: member.key, ledgerKeys: TrustedKeys([fleet.ledgerKey.publicKey]))
        security.learn(ownAssignment: memberCredential)
        let (channel, peer) = try await PeerLink.connect(
            host: "127.0.0.1", port: victim.port, target: victim.id, settings: PeerLinkSettings(security: security), logger: Self.logger)
        #expect(peer?.node == victim.id, "a member's proven key is let in")
        let header = FrameHeader(fleet: fleet.fleet, version: v1)
        let subtree = Subtree(
            fleet: fleet.fleet, version: v1, plan: planKey, stripe: 0, stripeCount: 1, depth: 1,
            nodes: [PlanNode(id: victim.id, address: HostPort("127.0.0.1:\(victim.port)")!, assignment: victimAssignment)], parents: [-1],
            backups: [[]])
        let frames = try await channel.executeThenClose { inbound, out in
            try await out.write(.hello(Hello(header: header, purpose: .push, node: member.id, announcement: announcement)))
            var seen: [PeerFrame.Kind] = []
            var iterator = inbound.makeAsyncIterator()
            if let first = try await iterator.next() { seen.append(first.kind) }
            try await out.write(.plan(header, subtree: subtree.canonicalBytes))
            while let frame = try await iterator.next() { seen.append(frame.kind) }
            return seen
        }
        #expect(!frames.contains(.ack), "the victim sent no ack to a parent its plan does not name: \(frames)")
        #expect(frames.last == .bye)
        #expect(fleet.agentLog(victim.id).contains("no signed plan names \(member.id) as a parent of \(victim.id)"), "\(fleet.agentLog(victim.id))")
    }

    @Test func anImpostorLedgerIsRefusedByEveryAgent() async throws {
        let (fleet, v1, _, _) = try await activeFleet()
        let impostor = SigningKey.generate()
        for node in fleet.nodes {
            let refusal = await dial(fleet, node, as: .ledger, key: impostor)
            #expect(refusal?.contains("does not hold a trusted ledger key") == true, "\(node.id): \(refusal ?? "let in")")
        }
        let status = try await fleet.status(v1)
        #expect(status.status == "active")
    }

    /// The ledger plays alone (no agents): the attacker publishes aggregates on `ben.<fleet>.ack`.
    @Test func aForgedAggregateCannotRewriteANodesReasonOrGetARelayBlamed() async throws {
        let fleet = try await LocalFleet(nodes: 4)
        try await fleet.startLedger()
        let v1 = try await fleet.stage(ProcessRunner.repositoryRoot() + "/examples/intent")
        #expect(try await fleet.benctl(["deploy", "\(v1.rawValue)", "--timeout", "60"]).status == 0)
        let (n1, n2, n3, n4) = (fleet.nodes[0], fleet.nodes[1], fleet.nodes[2], fleet.nodes[3])
        // The attacker holds one node's NATS credentials (node-1's): only nodes may publish on the ack subject.
        let connection = try await fleet.connectNATS(as: .node(n1.id))
        func publish(_ bytes: [UInt8]) async throws {
            try await connection.publish(bytes, subject: NATSSubjects.ack(fleet.fleet))
            try await connection.flush()
        }
        let now = Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000))
        let forged = Aggregate(
            fleet: fleet.fleet, version: v1, relay: n2.id, acks: [],
            missing: [.init(node: n3.id, reason: MissingReason(.refused, "forged reason")), .init(node: n1.id, reason: MissingReason(.tamperedRelay, "forged"))])
        // Unsigned, then signed by a key that is not node-2's.
        try await publish(forged.canonicalBytes)
        try await publish(SigningKey.generate().envelope(forged, context: .aggregate).canonicalBytes)
        // A tamper report "from node-4" signed by someone else.
        let report = TamperReport(fleet: fleet.fleet, version: v1, node: n4.id, relay: n1.id, detail: "forged", at: now)
        try await publish(
            Aggregate(fleet: fleet.fleet, version: v1, relay: n4.id, acks: [], missing: [], reports: [SigningKey.generate().envelope(report, context: .report)])
                .canonicalBytes)
        // node-2's own signed word about node-4 counts, as node-2's.
        let honest = Aggregate(
            fleet: fleet.fleet, version: v1, relay: n2.id, acks: [], missing: [.init(node: n4.id, reason: MissingReason(.unreachable, "connection refused"))])
        try await publish(n2.key.envelope(honest, context: .aggregate).canonicalBytes)
        try await fleet.waitUntil(timeout: .seconds(20), "node-2's signed claim is recorded") {
            (try? await fleet.status(v1))?.missing.first { $0.node == n4.id }?.reason.detail.contains("reported by \(n2.id)") == true
        }
        var status = try await fleet.status(v1)
        let n3Reason = status.missing.first { $0.node == n3.id }?.reason
        #expect(n3Reason?.detail.contains("forged") != true, "node-3's reason is not the forger's: \(String(describing: n3Reason))")
        #expect(status.suspects.isEmpty, "no relay is blamed on forged words: \(status.suspects)")
        #expect(fleet.ledgerLog.components(separatedBy: "claims about missing nodes ignored").count - 1 >= 2, "\(fleet.ledgerLog)")

        // A victim's own signed report does name the relay.
        try await publish(
            Aggregate(fleet: fleet.fleet, version: v1, relay: n4.id, acks: [], missing: [], reports: [n4.key.envelope(report, context: .report)])
                .canonicalBytes)
        try await fleet.waitUntil(timeout: .seconds(20), "the victim's report is recorded") { (try? await fleet.status(v1))?.suspects.isEmpty == false }
        status = try await fleet.status(v1)
        #expect(status.suspects.map(\.node) == [n1.id])
        #expect(status.suspects.first?.detail.contains("\(n4.id) reports") == true)
        await connection.close()
    }

    /// 1,000 connections that never speak, and 8 that announce a 64 MiB first message: none gets more than the
    /// handshake's budget, the agent's memory stays bounded (docs/operations.md), and a rollout alongside
    /// completes.
    @Test func aPreHandshakeFloodCostsTheAgentLittleAndARolloutAlongsideCompletes() async throws {
        let (fleet, _, _, _) = try await activeFleet()
        let target = fleet.nodes[0]
        let pid = try #require(fleet.agents[target.id]?.pid)
        let before = try #require(ResidentMemory.of(pid))
        let group = MultiThreadedEventLoopGroup.singleton
        var idle: [any Channel] = []
        for _ in 0..<1000 { idle.append(try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: target.port).get()) }
        var flooders: [any Channel] = []
        for _ in 0..<8 {
            let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: target.port).get()
            var prefix = ByteBuffer()
            prefix.writeInteger(UInt32(64 << 20))
            prefix.writeBytes([UInt8](repeating: 0x5A, count: 4 << 20))
            channel.writeAndFlush(prefix, promise: nil)
            flooders.append(channel)
        }
        let status = try await deployAgain(fleet, "during the flood")
        let peak = ResidentMemory.of(pid) ?? 0
        #expect(status.status == "active", "the rollout completed during the flood")
        for channel in flooders { try await channel.closeFuture.get() }
        for channel in idle { try await channel.closeFuture.get() }  // all cut off at the handshake deadline
        print("agent \(target.id): resident memory \(before >> 20) MiB before, \(peak >> 20) MiB under 1,000 idle links and 8 flooders")
        #expect(peak - before < 64 << 20, "resident memory grew by \((peak - before) >> 20) MiB")
        #expect(fleet.agents[target.id]?.isRunning == true)
    }

    /// 1,500 idle connections to an agent and 1,500 to the ledger: every one is closed (past the inbound limit at
    /// once, the rest at the handshake deadline), and both keep serving.
    @Test func idleConnectionsAreClosedOnTheAgentAndTheLedger() async throws {
        let (fleet, _, _, _) = try await activeFleet()
        let group = MultiThreadedEventLoopGroup.singleton
        var idle: [any Channel] = []
        for port in [fleet.nodes[0].port, fleet.ledgerPort] {
            for _ in 0..<1500 { idle.append(try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()) }
        }
        for channel in idle { try await channel.closeFuture.get() }
        #expect(fleet.agentLog(fleet.nodes[0].id).contains("inbound links are open already"))
        #expect(fleet.ledgerLog.contains("the handshake did not finish within"))
        #expect(try await deployAgain(fleet, "after the idle flood").status == "active")
    }
}
