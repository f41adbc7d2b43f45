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
        var (agent, childLink) = try relayWithStreamingChild(manifest: .notYet)
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

    /// n0 as a relay with its child n1 accepted and the manifest passed on, so chunks queue for n1's link.
    /// When the relay learns the manifest: before the child accepts (the child's HELLO then carries an empty set),
    /// after, or not yet (the test delivers it).
    enum ManifestArrival { case beforeAccept, afterAccept, notYet }

    func relayWithStreamingChild(manifest: ManifestArrival = .afterAccept) throws -> (AgentMachine, LinkID) {
        var agent = machine("n0")
        _ = agent.onLinkAccepted(parentLink, hello: push(from: "ledger"), announcement: incoming, local: nil, now: fleet.now)
        let subtree = Self.plan.subtree(of: 0, stripe: 0, planKey: fleet.planKey, children: Self.plan.children(stripe: 0), depth: 1)
        let planned = agent.onPlan(parentLink, subtree: subtree, now: fleet.now)
        let childLink = try #require(
            planned.compactMap { action -> LinkID? in
                if case .connect(let link, let peer, .push) = action, peer.id == NodeID("n1") { return link }
                return nil
            }.first, "the relay connects to its child: \(planned)")
        if manifest == .beforeAccept { _ = agent.onManifest(parentLink, manifest: fleet.manifest, actualKey: fleet.manifestKey, now: fleet.now) }
        _ = agent.onLinkConnected(childLink, now: fleet.now)
        let accept = Hello(header: FrameHeader(fleet: Self.plan.fleet, version: Self.plan.version), purpose: .accept, node: NodeID("n1"))
        _ = agent.onHello(childLink, hello: accept, now: fleet.now)
        if manifest == .afterAccept { _ = agent.onManifest(parentLink, manifest: fleet.manifest, actualKey: fleet.manifestKey, now: fleet.now) }
        return (agent, childLink)
    }

    func handedOff(_ actions: [AgentMachine.Action], on link: LinkID) -> [UInt32] {
        actions.flatMap { action -> [UInt32] in
            if case .send(link, .nack(let entries)) = action { return entries.filter { $0.code == .lacking }.map(\.index) }
            return []
        }
    }

    /// A child whose queue at the relay stays at the threshold across two checks is fed slower than chunks arrive
    /// for it: the newer half of its queue is handed to it to fetch elsewhere, and the relay says so.
    @Test(arguments: [ManifestArrival.afterAccept, .beforeAccept])
    func aBacklogThatIsNotShrinkingIsHandedToTheChild(manifest: ManifestArrival) throws {
        var (agent, childLink) = try relayWithStreamingChild(manifest: manifest)
        // The child takes nothing: chunks 0–3 fill its window, 4–7 queue at the relay.
        for i in 0..<8 { _ = agent.onChunk(parentLink, index: i, claimedKey: fleet.chunkKeys[i], actualKey: fleet.chunkKeys[i], now: fleet.now) }
        let first = agent.onTimer(.relayCheck(Self.plan.version), now: fleet.now + .seconds(2))
        #expect(handedOff(first, on: childLink).isEmpty, "one look at a backlog is not a trend: \(first)")
        #expect(first.contains { if case .armTimer(.relayCheck, _) = $0 { true } else { false } }, "a backlog remains: look again")
        let second = agent.onTimer(.relayCheck(Self.plan.version), now: fleet.now + .seconds(4))
        #expect(handedOff(second, on: childLink) == [6, 7], "\(second)")
        let child: NodeID = "n1"
        #expect(second.contains { if case .report(.backlogHandedOff(child, chunks: 2, backlog: 4)) = $0 { true } else { false } })
        // The handed-off chunks are not sent after all: freeing the window sends 4 and 5, then nothing.
        var sent: [Int] = []
        for i in 0..<4 {
            for action in agent.onChunkSent(childLink, index: i) {
                if case .send(childLink, .chunk(let index, _)) = action { sent.append(index) }
            }
        }
        #expect(sent == [4, 5])
    }

    /// A queue that drains between checks is a relay keeping up (a burst, a restart), and is left alone.
    @Test func aDrainingBacklogIsKept() throws {
        var (agent, childLink) = try relayWithStreamingChild()
        for i in 0..<8 { _ = agent.onChunk(parentLink, index: i, claimedKey: fleet.chunkKeys[i], actualKey: fleet.chunkKeys[i], now: fleet.now) }
        _ = agent.onTimer(.relayCheck(Self.plan.version), now: fleet.now + .seconds(2))
        _ = agent.onChunkSent(childLink, index: 0)
        let second = agent.onTimer(.relayCheck(Self.plan.version), now: fleet.now + .seconds(4))
        #expect(handedOff(second, on: childLink).isEmpty, "\(second)")
    }

    /// The relay check stops at the deadline, so a child that never drains cannot keep it going forever.
    @Test func theRelayCheckIsNotArmedPastTheDeadline() throws {
        var (agent, _) = try relayWithStreamingChild()
        let late = agent.onTimer(.relayCheck(Self.plan.version), now: fleet.announcement.deadline - .seconds(1))
        #expect(!late.contains { if case .armTimer(.relayCheck, _) = $0 { true } else { false } }, "\(late)")
    }

    /// A child told by its parent that the parent lacks chunks fetches them from someone else.
    @Test func aChildHandedChunksByItsParentFetchesThemElsewhere() throws {
        var agent = machine("n1")
        _ = agent.onLinkAccepted(parentLink, hello: push(from: "n0"), announcement: incoming, local: nil, now: fleet.now)
        _ = agent.onManifest(parentLink, manifest: fleet.manifest, actualKey: fleet.manifestKey, now: fleet.now)
        let actions = agent.onNack(parentLink, entries: [NackEntry(index: 6, code: .lacking), NackEntry(index: 7, code: .lacking)], now: fleet.now)
        let pull = try #require(
            actions.compactMap { action -> NodeID? in
                if case .connect(_, let peer, .pull) = action { return peer.id }
                return nil
            }.first, "\(actions)")
        #expect(pull != NodeID("n0"), "not from the parent that handed them off")
        #expect(!actions.contains { if case .close(parentLink, _, _) = $0 { true } else { false } }, "the parent link stays open")
    }

    func chunksSent(_ actions: [AgentMachine.Action], on link: LinkID) -> [Int] {
        actions.compactMap { action -> Int? in
            if case .send(link, .chunk(let index, _)) = action { return index }
            return nil
        }
    }

    /// A backup that is still receiving, and close behind, keeps a puller's want for a chunk it lacks and serves it
    /// when the chunk arrives, instead of answering `lacking` and sending the puller on to the ledger's store
    /// (issue 12). A want far past what it holds of that stripe is answered `lacking` at once.
    @Test func aHolderStillReceivingServesAWantedChunkWhenItArrives() throws {
        var agent = machine("n0")
        _ = agent.onLinkAccepted(parentLink, hello: push(from: "ledger"), announcement: incoming, local: nil, now: fleet.now)
        _ = agent.onManifest(parentLink, manifest: fleet.manifest, actualKey: fleet.manifestKey, now: fleet.now)
        _ = agent.onChunk(parentLink, index: 1, claimedKey: fleet.chunkKeys[1], actualKey: fleet.chunkKeys[1], now: fleet.now)
        let pullLink = LinkID(inbound: 9)
        let pull = Hello(header: FrameHeader(fleet: Self.plan.fleet, version: Self.plan.version), purpose: .pull, node: NodeID("n2"))
        _ = agent.onLinkAccepted(pullLink, hello: pull, announcement: nil, local: nil, now: fleet.now)
        let wanted = agent.onNack(pullLink, entries: [NackEntry(index: 1, code: .want), NackEntry(index: 5, code: .want)], now: fleet.now)
        #expect(chunksSent(wanted, on: pullLink) == [1], "what it holds goes at once: \(wanted)")
        #expect(handedOff(wanted, on: pullLink).isEmpty, "nothing is answered lacking while it is still receiving: \(wanted)")
        // Chunk 7 is more than a send window past the newest chunk of its stripe here: not soon, so `lacking`.
        let far = agent.onNack(pullLink, entries: [NackEntry(index: 7, code: .want)], now: fleet.now)
        #expect(handedOff(far, on: pullLink) == [7], "\(far)")
        let arrived = agent.onChunk(parentLink, index: 5, claimedKey: fleet.chunkKeys[5], actualKey: fleet.chunkKeys[5], now: fleet.now)
        #expect(chunksSent(arrived, on: pullLink) == [5], "the awaited chunk goes to the puller as it arrives: \(arrived)")
        let other = agent.onChunk(parentLink, index: 6, claimedKey: fleet.chunkKeys[6], actualKey: fleet.chunkKeys[6], now: fleet.now)
        #expect(chunksSent(other, on: pullLink).isEmpty, "chunks nobody pulled stay home: \(other)")
    }

    /// A holder that is not receiving the version any more (the ledger said it is not a target) answers what it
    /// still awaited `lacking`, so the puller moves on at once.
    @Test func aHolderThatStopsReceivingAnswersWhatItAwaitedLacking() throws {
        var agent = machine("n0")
        let orphanAt = fleet.now + .seconds(30)
        _ = agent.onAnnouncement(incoming, local: nil, now: fleet.now)
        let orphaned = agent.onTimer(.orphan(Self.plan.version), now: orphanAt)
        let ledgerPull = try #require(
            orphaned.compactMap { action -> LinkID? in
                if case .connect(let link, let peer, .pull) = action, peer.id == NodeID.ledger { return link }
                return nil
            }.first, "an orphan pulls from the ledger: \(orphaned)")
        _ = agent.onLinkConnected(ledgerPull, now: orphanAt)
        let accept = Hello(header: FrameHeader(fleet: Self.plan.fleet, version: Self.plan.version), purpose: .accept, node: .ledger, hasManifest: true, have: ChunkSet.full(count: 8))
        _ = agent.onHello(ledgerPull, hello: accept, now: orphanAt)
        // The manifest ends that pull; the chunks are asked for on a new one.
        let manifested = agent.onManifest(ledgerPull, manifest: fleet.manifest, actualKey: fleet.manifestKey, now: orphanAt)
        let chunkPull = try #require(
            manifested.compactMap { action -> LinkID? in
                if case .connect(let link, let peer, .pull) = action, peer.id == NodeID.ledger { return link }
                return nil
            }.first, "\(manifested)")
        _ = agent.onLinkConnected(chunkPull, now: orphanAt)
        _ = agent.onHello(chunkPull, hello: accept, now: orphanAt)
        let pullLink = LinkID(inbound: 9)
        let pull = Hello(header: FrameHeader(fleet: Self.plan.fleet, version: Self.plan.version), purpose: .pull, node: NodeID("n2"))
        _ = agent.onLinkAccepted(pullLink, hello: pull, announcement: nil, local: nil, now: orphanAt)
        let wanted = agent.onNack(pullLink, entries: [NackEntry(index: 2, code: .want)], now: orphanAt)
        #expect(handedOff(wanted, on: pullLink).isEmpty, "\(wanted)")
        let refused = agent.onBye(chunkPull, code: .notTargeted, reason: "not a target", now: orphanAt)
        #expect(handedOff(refused, on: pullLink) == [2], "\(refused)")
    }
}
