import BenCore
import BenProtocol
import BenTestKit
import Testing

/// What gossip's membership changes in the agent machine: a relay adopts the children of a child declared dead at
/// once, and tells gossip whom to watch.
@Suite struct AgentMembershipTests {
    /// ledger -> n0 -> n1 -> n2: n0 relays to n1, which relays to n2.
    static let plan = TestPlans.striped(nodes: 3, stripes: 1, fanOut: 1)
    let fleet = FleetHarness(plan: AgentMembershipTests.plan, chunkCount: 8)
    let parentLink = LinkID(inbound: 1)
    let dead = "declared dead by gossip (incarnation 0)"

    var incoming: IncomingAnnouncement {
        IncomingAnnouncement(announcement: fleet.announcement, envelope: fleet.envelope.canonicalBytes, signature: .valid)
    }

    /// n0, contacted by the ledger and holding its plan: it connects to n1. `accepted`: n1 answered its HELLO.
    func relay(childAccepted accepted: Bool) throws -> (AgentMachine, LinkID) {
        var agent = AgentMachine(
            node: "n0", fleet: Self.plan.fleet, record: AgentRecord(active: nil, highestAccepted: .none), signer: KeySigner(key: fleet.nodeKeys["n0"]!))
        let push = Hello(header: FrameHeader(fleet: Self.plan.fleet, version: Self.plan.version), purpose: .push, node: "ledger", announcement: fleet.envelope.canonicalBytes)
        _ = agent.onLinkAccepted(parentLink, hello: push, announcement: incoming, local: nil, now: fleet.now)
        let subtree = Self.plan.subtree(of: 0, stripe: 0, planKey: fleet.planKey, children: Self.plan.children(stripe: 0), depth: 1)
        let planned = agent.onPlan(parentLink, subtree: subtree, now: fleet.now)
        let childLink = try #require(
            planned.compactMap { action -> LinkID? in
                if case .connect(let link, let peer, .push) = action, peer.id == "n1" { return link }
                return nil
            }.first, "n0 connects to n1: \(planned)")
        _ = agent.onLinkConnected(childLink, now: fleet.now)
        if accepted {
            let accept = Hello(header: FrameHeader(fleet: Self.plan.fleet, version: Self.plan.version), purpose: .accept, node: "n1")
            _ = agent.onHello(childLink, hello: accept, now: fleet.now)
        }
        return (agent, childLink)
    }

    func adopted(_ actions: [AgentMachine.Action]) -> [NodeID] {
        actions.compactMap { if case .connect(_, let peer, .push) = $0 { peer.id } else { nil } }
    }

    /// A child that never answers HELLO (stopped, SIGSTOP, with its socket still accepting) keeps its link open for
    /// as long as it likes; membership declaring it dead makes its parent give up on it and adopt its child.
    @Test(arguments: [false, true])
    func aRelayAdoptsTheChildrenOfAChildGossipDeclaredDead(childAccepted: Bool) throws {
        var (agent, childLink) = try relay(childAccepted: childAccepted)
        let actions = agent.handle(.memberDead("n1", reason: dead), now: fleet.now + .seconds(5))
        #expect(actions.contains { if case .close(childLink, _, _) = $0 { true } else { false } }, "the dead child's link is closed: \(actions)")
        #expect(adopted(actions) == ["n2"], "n0 connects to n1's child: \(actions)")
        #expect(actions.contains { if case .report(.childUnreachable("n1", reason: dead, adopted: ["n2"])) = $0 { true } else { false } })
        // The closed link's failure, when the shell reports it, starts no retry.
        #expect(agent.handle(.linkFailed(childLink, reason: "closed"), now: fleet.now + .seconds(6)).isEmpty)
    }

    /// A busy machine misses pings, not TCP: a child gossip declares dead while chunks written to it are still
    /// leaving is kept (seen in a loaded run: a relay closed a healthy link and its whole stripe went to the
    /// ledger). Once nothing has left for it for `childMovingGrace`, the next relay check gives up on it.
    @Test func aChildDeclaredDeadWhileItsChunksStillLeaveIsKeptUntilTheyStop() throws {
        var (agent, childLink) = try relay(childAccepted: true)
        _ = agent.handle(.chunkSent(childLink, index: 0), now: fleet.now + .seconds(4))
        let kept = agent.handle(.memberDead("n1", reason: dead), now: fleet.now + .seconds(5))
        #expect(!kept.contains { if case .close(childLink, _, _) = $0 { true } else { false } }, "still reading: \(kept)")
        #expect(adopted(kept).isEmpty)
        #expect(kept.contains { if case .report(.childDeadButMoving("n1", reason: dead)) = $0 { true } else { false } }, "\(kept)")
        // A chunk leaves at 6 s: at 7 s it is still moving.
        _ = agent.handle(.chunkSent(childLink, index: 1), now: fleet.now + .seconds(6))
        let moving = agent.handle(.timer(.relayCheck(Self.plan.version)), now: fleet.now + .seconds(7))
        #expect(adopted(moving).isEmpty, "\(moving)")
        #expect(moving.contains { if case .armTimer(.relayCheck, _) = $0 { true } else { false } }, "looked at again: \(moving)")
        // Nothing leaves after that: at 9 s (3 s of silence) it is given up on and its child adopted.
        let stopped = agent.handle(.timer(.relayCheck(Self.plan.version)), now: fleet.now + .seconds(9))
        #expect(stopped.contains { if case .close(childLink, _, _) = $0 { true } else { false } }, "\(stopped)")
        #expect(adopted(stopped) == ["n2"], "\(stopped)")
    }

    /// Only this node's own children count: a grandchild, a stranger, or a child already given up on changes nothing.
    @Test func aMemberThatIsNotALiveChildChangesNothing() throws {
        var (agent, _) = try relay(childAccepted: true)
        #expect(agent.handle(.memberDead("n2", reason: dead), now: fleet.now).isEmpty, "n2 is n1's child, not n0's")
        #expect(agent.handle(.memberDead("stranger", reason: dead), now: fleet.now).isEmpty)
        _ = agent.handle(.memberDead("n1", reason: dead), now: fleet.now)
        #expect(agent.handle(.memberDead("n1", reason: dead), now: fleet.now).isEmpty, "given up on once")
        var idle = AgentMachine(
            node: "n0", fleet: Self.plan.fleet, record: AgentRecord(active: nil, highestAccepted: .none), signer: KeySigner(key: fleet.nodeKeys["n0"]!))
        #expect(idle.handle(.memberDead("n1", reason: dead), now: fleet.now).isEmpty, "no deployment, no children")
    }

    /// Gossip watches the plan neighbours (never the ledger), adopted ones included.
    @Test func theWatchListIsThePlanChildrenAndParents() throws {
        var (agent, _) = try relay(childAccepted: true)
        #expect(agent.watchList == ["n1"], "the ledger is not watched: it is no agent")
        _ = agent.handle(.memberDead("n1", reason: dead), now: fleet.now)
        #expect(agent.watchList == ["n1", "n2"], "the adopted child too")
        #expect(agent.acceptedAnnouncement?.envelope == fleet.envelope.canonicalBytes)
    }
}

/// Whom the ledger plans around: with gossip, membership's dead unless a heartbeat received since the death (and
/// fresh) says otherwise; without, heartbeat silence.
@Suite struct LivenessDownTests {
    static let now = Timestamp(millisecondsSinceEpoch: 1_800_000_100_000)

    static func heard(_ secondsAgo: Int64) -> Liveness.Heard {
        Liveness.Heard(nodeTime: now - .seconds(secondsAgo), receivedAt: now - .seconds(secondsAgo))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var heartbeat: Int64?
        /// Seconds since membership declared it dead; nil: alive to membership; `withoutGossip`: no membership.
        var dead: Int64?
        var withoutGossip = false
        var down: Bool
        var testDescription: String { name }
    }

    @Test(arguments: [
        Case(name: "dead and never heartbeating", heartbeat: nil, dead: 10, down: true),
        Case(name: "dead and heartbeat-silent", heartbeat: 200, dead: 10, down: true),
        Case(name: "dead just now, its last heartbeat fresh but sent before it died", heartbeat: 15, dead: 10, down: true),
        Case(name: "dead, but a heartbeat since (its gossip is cut, its NATS is not)", heartbeat: 5, dead: 10, down: false),
        Case(name: "dead, and silent again long after its last heartbeat since", heartbeat: 95, dead: 100, down: true),
        Case(name: "alive to gossip but heartbeat-silent (it lost NATS only)", heartbeat: 200, dead: nil, down: false),
        Case(name: "heartbeat-silent, without gossip", heartbeat: 200, withoutGossip: true, down: true),
        Case(name: "fresh heartbeat, without gossip", heartbeat: 5, withoutGossip: true, down: false),
        Case(name: "never heard, without gossip", heartbeat: nil, withoutGossip: true, down: false),
    ])
    func down(_ c: Case) {
        let node: NodeID = "n1"
        let heard = c.heartbeat.map { [node: Self.heard($0)] } ?? [:]
        let membership = c.withoutGossip ? nil : Liveness.Membership(dead: c.dead.map { [node: Self.now - .seconds($0)] } ?? [:])
        #expect(Liveness.down(heard, membership: membership, now: Self.now, after: .seconds(90)) == (c.down ? [node] : []))
    }
}

/// The GOSSIP frame: a gossip message too large for a datagram, alone on a peer link.
@Suite struct GossipFrameTests {
    @Test func aGossipFrameRoundTripsAndIsBounded() throws {
        let header = FrameHeader(fleet: GossipFixtures.fleet, version: .none)
        let payload = [UInt8](repeating: 0xAB, count: 5000)
        var buffer = PeerFrameCodec.encode(.gossip(header, datagram: payload))
        #expect(try PeerFrameCodec.decode(&buffer, limits: .init()) == .gossip(header, datagram: payload))
        var oversize = PeerFrameCodec.encode(.gossip(header, datagram: [UInt8](repeating: 0, count: GossipWire.maxDocumentBytes + 8192)))
        #expect(throws: FrameError.self) { try PeerFrameCodec.decode(&oversize, limits: .init()) }
    }

    @Test func theLedgerTakesAGossipFrameOnlyAsTheFirstFrameOfALink() {
        let frame = PeerFrame.gossip(FrameHeader(fleet: GossipFixtures.fleet, version: .none), datagram: [1, 2, 3])
        #expect(LedgerLinkPolicy.admit(frame, firstOnLink: true) == .gossip([1, 2, 3]))
        if case .refuse = LedgerLinkPolicy.admit(frame, firstOnLink: false) {} else { Issue.record("a GOSSIP frame mid-link is refused") }
    }
}
