import BenCore
import BenProtocol
import BenTestKit
import Testing

/// Stalls are judged by what arrives on the links, against the plan (issue 12): a slow but moving stream is
/// not stalled, a relay waiting on its own parent says so, and only a silent link sends a node elsewhere.
@Suite struct ProgressCheckTests {
    static let plan: Plan = {
        var p = PlanSketch.plan(
            """
            ledger -> n0
            n0 -> n1
            n1 -> n2
            """)
        // 1 MiB chunks planned at 1 MiB/s: a chunk takes a second, so 4 chunk times is 4 s.
        p.stripeRate = 1 << 20
        return p
    }()
    let fleet = FleetHarness(plan: ProgressCheckTests.plan, chunkCount: 16, chunkSize: 1 << 20)
    let parentLink = LinkID(inbound: 1)
    var version: Version { Self.plan.version }

    func machine(_ node: NodeID) -> AgentMachine {
        AgentMachine(
            node: node, fleet: Self.plan.fleet, record: AgentRecord(active: nil, highestAccepted: .none), signer: KeySigner(key: fleet.nodeKeys[node]!))
    }

    var incoming: IncomingAnnouncement {
        IncomingAnnouncement(announcement: fleet.announcement, envelope: fleet.envelope.canonicalBytes, signature: .valid)
    }

    /// n2 contacted by its parent n1, with the plan and the manifest, and the first chunk in.
    func receivingLeaf() -> AgentMachine {
        var agent = machine("n2")
        let hello = Hello(
            header: FrameHeader(fleet: Self.plan.fleet, version: version), purpose: .push, node: "n1", announcement: fleet.envelope.canonicalBytes)
        _ = agent.onLinkAccepted(parentLink, hello: hello, announcement: incoming, local: nil, now: fleet.now)
        let subtree = Self.plan.subtree(of: 2, stripe: 0, planKey: fleet.planKey, children: Self.plan.children(stripe: 0), depth: 3)
        _ = agent.onPlan(parentLink, subtree: subtree, now: fleet.now)
        _ = agent.onManifest(parentLink, manifest: fleet.manifest, actualKey: fleet.manifestKey, now: fleet.now)
        _ = agent.onChunk(parentLink, index: 0, claimedKey: fleet.chunkKeys[0], actualKey: fleet.chunkKeys[0], now: fleet.now)
        return agent
    }

    static func fetches(_ actions: [AgentMachine.Action]) -> Bool {
        actions.contains { action in
            switch action {
            case .connect(_, _, .pull), .report(.stripeStalled): true
            default: false
            }
        }
    }

    @Test func aSlowButSteadyStreamTriggersNoStallAndNoFetch() {
        var agent = receivingLeaf()
        // Chunk 1 trickles in at a tenth of the planned rate: 100 KiB a second, no whole chunk for 10 s.
        for second in 1...12 {
            let now = fleet.now + .seconds(second)
            _ = agent.onLinkBytes([parentLink: Int64(second * 100 << 10)], now: now)
            let actions = agent.onTimer(.progressCheck(version), now: now)
            #expect(!Self.fetches(actions), "second \(second): \(actions)")
        }
    }

    @Test func aSilentLinkIsStalledAfterFourChunkTimesAndItsChunksFetchedElsewhere() throws {
        var agent = receivingLeaf()
        for second in 1...3 {
            #expect(!Self.fetches(agent.onTimer(.progressCheck(version), now: fleet.now + .seconds(second))), "second \(second)")
        }
        let actions = agent.onTimer(.progressCheck(version), now: fleet.now + .seconds(4))
        #expect(actions.contains { if case .report(.stripeStalled(stripe: 0, missing: 15)) = $0 { true } else { false } }, "\(actions)")
        #expect(actions.contains { if case .close(parentLink, _, _) = $0 { true } else { false } }, "the silent parent is dropped")
        let source = try #require(actions.compactMap { if case .connect(_, let peer, .pull) = $0 { peer.id } else { nil } }.first)
        #expect(source != "n1")
    }

    @Test func keepalivesFromARelayWaitingOnItsOwnParentHoldOffTheStall() {
        var agent = receivingLeaf()
        for second in 1...10 {
            let now = fleet.now + .seconds(second)
            // n1 has nothing for n2 yet (its own parent is slow) and says so with an empty NACK each second.
            #expect(!Self.fetches(agent.onNack(parentLink, entries: [], now: now)))
            #expect(!Self.fetches(agent.onTimer(.progressCheck(version), now: now)), "second \(second)")
        }
    }

    /// A check that fires seconds after it was due means this node itself was not running: bytes its parent sent
    /// meanwhile wait unread in its socket, so that check judges nothing. The checks after it, on time, judge again
    /// with the starvation (4 s late, less a second a check) counted twice: a parent heard from is kept, a parent
    /// still silent is left once its silence passes 4 s plus twice what is left of it.
    @Test(arguments: [true, false])
    func aLateCheckDoesNotJudgeTheSilenceOfAStarvedNode(parentSentMeanwhile: Bool) {
        var agent = receivingLeaf()
        #expect(!Self.fetches(agent.onTimer(.progressCheck(version), now: fleet.now + .seconds(1))))
        let late = agent.onTimer(.progressCheck(version), now: fleet.now + .seconds(6))
        #expect(!Self.fetches(late), "starved for 5 s, silence is not judged: \(late)")
        if parentSentMeanwhile { _ = agent.onLinkBytes([parentLink: 600 << 10], now: fleet.now + .milliseconds(6_200)) }
        let next = agent.onTimer(.progressCheck(version), now: fleet.now + .seconds(7))
        #expect(!Self.fetches(next), "7 s of silence against 4 + 2 × 3 s: \(next)")
        let after = agent.onTimer(.progressCheck(version), now: fleet.now + .seconds(8))
        #expect(Self.fetches(after) == !parentSentMeanwhile, "8 s of silence against 4 + 2 × 2 s: \(after)")
    }

    /// Checks that each run half a second late show a busy machine: a silent parent gets twice that longer (5 s
    /// instead of 4) before its stripe counts as stalled.
    @Test func aStarvedNodeWaitsLongerForASilentParent() {
        var agent = receivingLeaf()
        for step in 1...3 {
            let now = fleet.now + .milliseconds(1_500 * step)
            #expect(!Self.fetches(agent.onTimer(.progressCheck(version), now: now)), "at \(1.5 * Double(step)) s")
        }
        let stalled = agent.onTimer(.progressCheck(version), now: fleet.now + .seconds(6))
        #expect(Self.fetches(stalled), "\(stalled)")
    }

    /// The relay side: n1 with its child n2 streaming.
    func relayWithChild() throws -> (AgentMachine, LinkID) {
        var relay = machine("n1")
        let hello = Hello(
            header: FrameHeader(fleet: Self.plan.fleet, version: version), purpose: .push, node: "n0", announcement: fleet.envelope.canonicalBytes)
        _ = relay.onLinkAccepted(parentLink, hello: hello, announcement: incoming, local: nil, now: fleet.now)
        let subtree = Self.plan.subtree(of: 1, stripe: 0, planKey: fleet.planKey, children: Self.plan.children(stripe: 0), depth: 2)
        let planned = relay.onPlan(parentLink, subtree: subtree, now: fleet.now)
        let child = try #require(planned.compactMap { if case .connect(let link, _, .push) = $0 { link } else { nil } }.first)
        _ = relay.onLinkConnected(child, now: fleet.now)
        _ = relay.onHello(child, hello: Hello(header: FrameHeader(fleet: Self.plan.fleet, version: version), purpose: .accept, node: "n2"), now: fleet.now)
        _ = relay.onManifest(parentLink, manifest: fleet.manifest, actualKey: fleet.manifestKey, now: fleet.now)
        return (relay, child)
    }

    @Test func aRelayWithNothingToSendKeepsItsChildsLinkAlive() throws {
        var (relay, child) = try relayWithChild()
        let actions = relay.onTimer(.relayCheck(version), now: fleet.now + .seconds(1))
        #expect(actions.contains(.send(child, .nack([]))), "\(actions)")
    }

    /// Chunks arrive as fast as the relay sends them, one a second, with four queued: the queue neither grows
    /// nor shrinks. At the planned rate that is a relay doing its job; at none it is a relay that cannot.
    @Test(arguments: [true, false])
    func aRelayHandsOffOnlyWhenItSendsBelowThePlannedRate(sendsAtPlan: Bool) throws {
        var (relay, child) = try relayWithChild()
        for i in 0..<8 { _ = relay.onChunk(parentLink, index: i, claimedKey: fleet.chunkKeys[i], actualKey: fleet.chunkKeys[i], now: fleet.now) }
        var handedOff = false
        for second in 1...4 {
            if sendsAtPlan { _ = relay.onChunkSent(child, index: second - 1) }
            let i = 7 + second
            _ = relay.onChunk(parentLink, index: i, claimedKey: fleet.chunkKeys[i], actualKey: fleet.chunkKeys[i], now: fleet.now + .seconds(second))
            let actions = relay.onTimer(.relayCheck(version), now: fleet.now + .seconds(second))
            handedOff = handedOff || actions.contains { if case .report(.backlogHandedOff) = $0 { true } else { false } }
        }
        #expect(handedOff == !sendsAtPlan)
    }
}
