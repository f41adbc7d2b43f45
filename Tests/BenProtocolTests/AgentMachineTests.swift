import BenCore
import BenProtocol
import BenTestKit
import Testing

/// The agent machine alone, event by event: what it answers a parent, and when it forwards. The harness is
/// used only for a consistent set of documents (plan, manifest, signed announcement).
@Suite struct AgentMachineTests {
    static let plan = TestPlans.striped(nodes: 3, stripes: 1, fanOut: 1)
    let fleet = FleetHarness(plan: AgentMachineTests.plan, chunkCount: 8)
    let parentLink = LinkID(inbound: 1)

    func machine(_ node: String) -> AgentMachine {
        AgentMachine(
            node: NodeID(node)!, fleet: Self.plan.fleet, record: AgentRecord(active: nil, highestAccepted: .none),
            signer: KeySigner(key: fleet.nodeKeys[NodeID(node)!]!))
    }

    func push(from node: String) -> Hello {
        Hello(header: FrameHeader(fleet: Self.plan.fleet, version: Self.plan.version), purpose: .push, node: NodeID(node)!,
            announcement: fleet.envelope.canonicalBytes)
    }

    var incoming: IncomingAnnouncement {
        IncomingAnnouncement(announcement: fleet.announcement, envelope: fleet.envelope.canonicalBytes, signature: .valid)
    }

    /// A restarted node tells its parent what its store already holds, and completes on the chunks it lacked.
    @Test func aRestartedNodeAsksOnlyForTheChunksItLacks() throws {
        var agent = machine("n1")
        var held = ChunkSet(count: 8)
        for i in 0..<8 where i != 3 && i != 6 { held.insert(i) }
        let actions = agent.onLinkAccepted(
            parentLink, hello: push(from: "n0"), announcement: incoming, local: LocalHoldings(chunkKeys: fleet.chunkKeys, have: held),
            now: fleet.now)
        let accepts = actions.compactMap { action -> Hello? in
            if case .send(parentLink, .hello(let hello)) = action, hello.purpose == .accept { return hello }
            return nil
        }
        let accept = try #require(accepts.first, "the node answers its parent's HELLO: \(actions)")
        #expect(accept.hasManifest)
        #expect((0..<8).filter { accept.have.contains($0) } == [0, 1, 2, 4, 5, 7])

        let afterFirst = agent.onChunk(parentLink, index: 3, claimedKey: fleet.chunkKeys[3], actualKey: fleet.chunkKeys[3], now: fleet.now)
        #expect(!afterFirst.contains { if case .compile = $0 { true } else { false } }, "chunk 6 is still missing")
        let afterSecond = agent.onChunk(parentLink, index: 6, claimedKey: fleet.chunkKeys[6], actualKey: fleet.chunkKeys[6], now: fleet.now)
        #expect(afterSecond.contains { if case .compile(Self.plan.version, manifest: fleet.manifestKey) = $0 { true } else { false } })
    }

    /// Cut-through: a relay forwards chunk i to its child as soon as it has verified it, before chunk i+1 arrives.
    @Test func aRelayForwardsEachChunkAsSoonAsItHasIt() throws {
        var agent = machine("n0")
        _ = agent.onLinkAccepted(parentLink, hello: push(from: "ledger"), announcement: incoming, local: nil, now: fleet.now)
        let subtree = Self.plan.subtree(of: 0, stripe: 0, planKey: fleet.planKey, children: Self.plan.children(stripe: 0), depth: 1)
        let planned = agent.onPlan(parentLink, subtree: subtree, now: fleet.now)
        let childLink = try #require(
            planned.compactMap { action -> LinkID? in
                if case .connect(let link, let peer, .push) = action, peer.id == NodeID("n1") { return link }
                return nil
            }.first, "the relay connects to its child: \(planned)")
        _ = agent.onLinkConnected(childLink, now: fleet.now)
        let accept = Hello(header: FrameHeader(fleet: Self.plan.fleet, version: Self.plan.version), purpose: .accept, node: NodeID("n1"))
        _ = agent.onHello(childLink, hello: accept, now: fleet.now)
        let manifest = agent.onManifest(parentLink, manifest: fleet.manifest, actualKey: fleet.manifestKey, now: fleet.now)
        #expect(manifest.contains { if case .send(childLink, .manifest(fleet.manifestKey)) = $0 { true } else { false } })

        for i in 0..<3 {
            let actions = agent.onChunk(parentLink, index: i, claimedKey: fleet.chunkKeys[i], actualKey: fleet.chunkKeys[i], now: fleet.now)
            #expect(
                actions.contains { if case .send(childLink, .chunk(index: i, key: fleet.chunkKeys[i])) = $0 { true } else { false } },
                "chunk \(i) goes on to the child at once: \(actions)")
            _ = agent.onChunkSent(childLink, index: i)
        }
    }

    /// Deeper nodes must report earlier, so each relay can aggregate its subtree before its own deadline.
    @Test func ackDeadlinesShrinkWithDepth() throws {
        var deadlines: [Timestamp] = []
        for (index, name) in ["n0", "n1", "n2"].enumerated() {
            var agent = machine(name)
            _ = agent.onLinkAccepted(parentLink, hello: push(from: index == 0 ? "ledger" : "n\(index - 1)"), announcement: incoming, local: nil, now: fleet.now)
            let subtree = Self.plan.subtree(
                of: index, stripe: 0, planKey: fleet.planKey, children: Self.plan.children(stripe: 0), depth: index + 1)
            let actions = agent.onPlan(parentLink, subtree: subtree, now: fleet.now)
            let deadline = try #require(
                actions.compactMap { action -> Timestamp? in
                    if case .armTimer(.ackDeadline, let at) = action { return at }
                    return nil
                }.first, "\(name) arms its ack deadline: \(actions)")
            deadlines.append(deadline)
        }
        #expect(deadlines[0] > deadlines[1] && deadlines[1] > deadlines[2], "\(deadlines)")
        #expect(deadlines[0] <= fleet.announcement.deadline)
    }
}
