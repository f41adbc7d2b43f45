import BenCore
import BenProtocol
import BenTestKit
import Testing

/// Acks that always reach the ledger (issue 13): a node answers every question about a version with the same
/// signed document, refuses in writing, reports in time however deep it sits, and a relay never drops a late ack.
@Suite struct AgentAnswerTests {
    static let plan = TestPlans.striped(nodes: 3, stripes: 1, fanOut: 1)
    let fleet = FleetHarness(plan: AgentAnswerTests.plan, chunkCount: 4)
    let parentLink = LinkID(inbound: 1)
    var version: Version { Self.plan.version }

    func machine(_ node: NodeID, record: AgentRecord = AgentRecord(active: nil, highestAccepted: .none)) -> AgentMachine {
        AgentMachine(node: node, fleet: Self.plan.fleet, record: record, signer: KeySigner(key: fleet.nodeKeys[node]!))
    }

    func push(from node: NodeID, _ envelope: SignedEnvelope? = nil) -> Hello {
        Hello(
            header: FrameHeader(fleet: Self.plan.fleet, version: Self.plan.version), purpose: .push, node: node,
            announcement: (envelope ?? fleet.envelope).canonicalBytes)
    }

    func incoming(_ announcement: Announcement? = nil) -> IncomingAnnouncement {
        let a = announcement ?? fleet.announcement
        return IncomingAnnouncement(announcement: a, envelope: fleet.ledgerKey.envelope(a, context: .announce).canonicalBytes, signature: .valid)
    }

    var complete: LocalHoldings {
        LocalHoldings(chunkKeys: fleet.chunkKeys, have: ChunkSet.full(count: fleet.chunkKeys.count))
    }

    func subtree(of index: Int, depth: Int) -> Subtree {
        Self.plan.subtree(of: index, stripe: 0, planKey: fleet.planKey, children: Self.plan.children(stripe: 0), depth: depth)
    }

    /// n2, the leaf, driven from its parent's HELLO to its signed ack; returns the machine and the ack it sent up.
    func activatedLeaf() throws -> (AgentMachine, SignedEnvelope) {
        var agent = machine("n2")
        _ = agent.onLinkAccepted(parentLink, hello: push(from: "n1"), announcement: incoming(), local: nil, now: fleet.now)
        _ = agent.onPlan(parentLink, subtree: subtree(of: 2, depth: 3), now: fleet.now)
        _ = agent.onManifest(parentLink, manifest: fleet.manifest, actualKey: fleet.manifestKey, now: fleet.now)
        for i in 0..<4 { _ = agent.onChunk(parentLink, index: i, claimedKey: fleet.chunkKeys[i], actualKey: fleet.chunkKeys[i], now: fleet.now) }
        let done = agent.onCompiled(version, outcome: .compiled, now: fleet.now + .seconds(1))
        let sent = try #require(Self.acksSent(done, on: parentLink).first, "the leaf acks to its parent: \(done)")
        return (agent, sent)
    }

    static func acksSent(_ actions: [AgentMachine.Action], on link: LinkID) -> [SignedEnvelope] {
        actions.flatMap { action -> [SignedEnvelope] in
            if case .send(link, .ack(let aggregate)) = action { return aggregate.acks }
            return []
        }
    }

    static func published(_ actions: [AgentMachine.Action]) -> [Aggregate] {
        actions.compactMap { if case .publishAggregate(let a) = $0 { a } else { nil } }
    }

    // MARK: Idempotent answers

    @Test func theSignedAnswerIsDurableWithTheSwap() throws {
        let (agent, sent) = try activatedLeaf()
        let answer = try #require(agent.record.lastAnswer)
        #expect(answer.envelope == sent && answer.status == .active && answer.version == version)
        #expect(agent.record.active?.version == version)
    }

    @Test func askedByNameANodeSendsTheSameSignedAckAgainOverNATS() throws {
        var (agent, sent) = try activatedLeaf()
        let actions = agent.onAnswerRequested(version, now: fleet.now + .seconds(90))
        #expect(Self.published(actions).map(\.acks) == [[sent]], "the very same bytes: \(actions)")
        #expect(agent.onAnswerRequested(Version(version.rawValue + 1), now: fleet.now).isEmpty, "nothing to say about a version it never answered")
    }

    @Test func afterARestartAParentOfARetryPlanGetsTheSameAckAndSendsNoChunks() throws {
        let (before, sent) = try activatedLeaf()
        var restarted = machine("n2", record: before.record)
        var retry = fleet.announcement
        retry.issuedAt = fleet.now + .seconds(100)
        retry.deadline = fleet.now + .seconds(160)
        let retryEnvelope = fleet.ledgerKey.envelope(retry, context: .announce)
        let link = LinkID(inbound: 7)
        // The retry over NATS alone changes nothing: the node waits for a parent or for the ledger to ask.
        #expect(restarted.onAnnouncement(incoming(retry), local: complete, now: retry.issuedAt).isEmpty)
        let accepted = restarted.onLinkAccepted(link, hello: push(from: "n0", retryEnvelope), announcement: incoming(retry), local: complete, now: retry.issuedAt)
        let hello = try #require(
            accepted.compactMap { action -> Hello? in
                if case .send(link, .hello(let h)) = action { return h }
                return nil
            }.first, "\(accepted)")
        #expect(hello.hasManifest && hello.have.isComplete, "it holds everything: the parent sends no chunk")
        #expect(!accepted.contains { if case .report(.announcementRefused) = $0 { true } else { false } }, "not refused as not newer")
        var leafPlan = subtree(of: 2, depth: 1)
        leafPlan.parents = [-1]
        leafPlan.nodes = [leafPlan.nodes[0]]
        leafPlan.backups = [leafPlan.backups[0]]
        let planned = restarted.onPlan(link, subtree: leafPlan, now: retry.issuedAt)
        #expect(Self.acksSent(planned, on: link) == [sent], "\(planned)")
        #expect(!planned.contains { if case .compile = $0 { true } else { false } }, "nothing is compiled again")
    }

    @Test func aRefusalIsAnsweredAgainToo() throws {
        var agent = machine("n2")
        _ = agent.onLinkAccepted(parentLink, hello: push(from: "n1"), announcement: incoming(), local: complete, now: fleet.now)
        _ = agent.onPlan(parentLink, subtree: subtree(of: 2, depth: 3), now: fleet.now)
        let refused = agent.onCompiled(version, outcome: .failed("compile: rule r1: unknown field"), now: fleet.now)
        let sent = try #require(Self.acksSent(refused, on: parentLink).first)
        #expect(agent.record.lastAnswer?.status == .refused)
        #expect(refused.contains { if case .persist(let r) = $0 { r.lastAnswer?.envelope == sent } else { false } })
        #expect(Self.published(agent.onAnswerRequested(version, now: fleet.now)).map(\.acks) == [[sent]])
    }

    // MARK: Refusals in writing

    @Test(arguments: ["expired", "otherFleet", "notNewer", "badSignature"])
    func aRefusedAnnouncementIsAnsweredWithASignedRefusalBeforeTheBye(kind: String) throws {
        var agent = machine("n2")
        var a = fleet.announcement
        var signature = SignatureCheck.valid
        switch kind {
        case "expired": a.expires = fleet.now - .seconds(600)
        case "otherFleet": a.fleet = FleetName("elsewhere")!
        case "notNewer": agent = machine("n2", record: AgentRecord(active: ActiveVersion(version: Version(version.rawValue + 3), manifest: fleet.manifestKey), highestAccepted: Version(version.rawValue + 3)))
        default: signature = .invalid("signed by an unknown key")
        }
        let envelope = fleet.ledgerKey.envelope(a, context: .announce)
        var hello = push(from: "n1", envelope)
        hello.header = FrameHeader(fleet: Self.plan.fleet, version: a.version)
        let actions = agent.onLinkAccepted(
            parentLink, hello: hello, announcement: IncomingAnnouncement(announcement: a, envelope: envelope.canonicalBytes, signature: signature),
            local: nil, now: fleet.now)
        if kind == "otherFleet" {
            // A HELLO for another fleet is turned away before its announcement is read.
            #expect(actions.contains { if case .close(parentLink, .refusedAnnouncement, _) = $0 { true } else { false } })
            return
        }
        let refusal = try #require(Self.acksSent(actions, on: parentLink).first, "\(actions)")
        let ack = try refusal.document(as: Ack.self)
        #expect(ack.status == .refused && ack.node == "n2" && ack.version == a.version && ack.reason.hasPrefix("announcement refused: "))
        let ackAt = actions.firstIndex { if case .send(parentLink, .ack) = $0 { true } else { false } }!
        let byeAt = actions.firstIndex { if case .close(parentLink, .refusedAnnouncement, _) = $0 { true } else { false } }
        #expect(byeAt.map { ackAt < $0 } == true, "the signed refusal goes before the BYE: \(actions)")
    }

    @Test func aNewsworthyRefusalOverNATSIsPublishedOnceAndAStaleOneNotAtAll() throws {
        var agent = machine("n2")
        var expired = fleet.announcement
        expired.expires = fleet.now - .seconds(600)
        let first = agent.onAnnouncement(incoming(expired), local: nil, now: fleet.now)
        #expect(Self.published(first).count == 1)
        #expect(Self.published(agent.onAnnouncement(incoming(expired), local: nil, now: fleet.now)).isEmpty, "once per version")
        var runner = machine("n2", record: AgentRecord(active: ActiveVersion(version: Version(version.rawValue + 1), manifest: fleet.manifestKey), highestAccepted: Version(version.rawValue + 1)))
        #expect(Self.published(runner.onAnnouncement(incoming(), local: nil, now: fleet.now)).isEmpty, "a replay of an older version is not news")
    }

    // MARK: Deadlines and late acks

    @Test(arguments: [1, 4, 9])
    func everyAckDeadlineFallsAfterTheAnnouncementHoweverDeepTheTree(depth: Int) throws {
        var short = fleet.announcement
        short.deadline = short.issuedAt + .seconds(12)
        var agent = machine("n2")
        _ = agent.onLinkAccepted(parentLink, hello: push(from: "n1"), announcement: incoming(short), local: nil, now: fleet.now)
        let actions = agent.onPlan(parentLink, subtree: subtree(of: 2, depth: depth), now: fleet.now)
        let at = try #require(actions.compactMap { if case .armTimer(.ackDeadline, let at) = $0 { at } else { nil } }.first)
        #expect(at > short.issuedAt && at < short.deadline, "depth \(depth): \(at)")
    }

    /// n1 relays to n2. n2's first aggregate comes at its ack deadline without its own ack (it was slow); its ack
    /// comes later. The relay keeps the link open for it and passes it up the moment it arrives.
    @Test func aRelayKeepsAnAckChildsLinkOpenUntilItsLateAckArrivesAndPassesItUp() throws {
        var relay = machine("n1")
        _ = relay.onLinkAccepted(parentLink, hello: push(from: "n0"), announcement: incoming(), local: nil, now: fleet.now)
        let planned = relay.onPlan(parentLink, subtree: subtree(of: 1, depth: 2), now: fleet.now)
        let child = try #require(
            planned.compactMap { action -> LinkID? in
                if case .connect(let link, let peer, .push) = action, peer.id == "n2" { return link }
                return nil
            }.first)
        _ = relay.onLinkConnected(child, now: fleet.now)
        _ = relay.onHello(child, hello: Hello(header: FrameHeader(fleet: Self.plan.fleet, version: version), purpose: .accept, node: "n2"), now: fleet.now)
        _ = relay.onManifest(parentLink, manifest: fleet.manifest, actualKey: fleet.manifestKey, now: fleet.now)
        for i in 0..<4 {
            _ = relay.onChunk(parentLink, index: i, claimedKey: fleet.chunkKeys[i], actualKey: fleet.chunkKeys[i], now: fleet.now)
            _ = relay.onChunkSent(child, index: i)
        }
        _ = relay.onCompiled(version, outcome: .compiled, now: fleet.now)
        // n2's first aggregate: nothing acked, itself missing.
        let empty = Aggregate(fleet: Self.plan.fleet, version: version, relay: "n2", acks: [], missing: [.init(node: "n2", reason: MissingReason(.timeout, "compiling"))])
        let first = relay.onAck(child, aggregate: empty, now: fleet.now + .seconds(1))
        #expect(!first.contains { if case .close(child, _, _) = $0 { true } else { false } }, "n2 has not acked: its link stays open: \(first)")
        // The late ack.
        let (_, late) = try activatedLeaf()
        let second = relay.onAck(child, aggregate: Aggregate(fleet: Self.plan.fleet, version: version, relay: "n2", acks: [late], missing: []), now: fleet.now + .seconds(2))
        #expect(Self.acksSent(second, on: parentLink) == [late], "passed up at once: \(second)")
        #expect(second.contains { if case .close(child, .done, _) = $0 { true } else { false } }, "now the link closes")
        // Even after the relay closed the link, an ACK the child wrote before it saw the BYE is taken.
        let straggler = relay.onAck(child, aggregate: Aggregate(fleet: Self.plan.fleet, version: version, relay: "n2", acks: [late], missing: []), now: fleet.now + .seconds(3))
        #expect(!straggler.contains { if case .report(.protocolViolation) = $0 { true } else { false } }, "\(straggler)")
    }

    /// n1 was wrongly declared dead (a busy machine's missed pings) and n0 adopted n2, while n1's link to n2 stayed
    /// open: n1 still counts n2 among its ack children. n2's aggregate goes to its adopter and a copy to n1, so n1
    /// does not hold its own ack until its ack deadline (found in a loaded run: 4.5 minutes with `--timeout 900`).
    @Test func anAckParentReplacedByAnAdopterStillGetsTheAggregate() throws {
        var agent = machine("n2")
        let adopterLink = LinkID(inbound: 2)
        _ = agent.onLinkAccepted(parentLink, hello: push(from: "n1"), announcement: incoming(), local: nil, now: fleet.now)
        _ = agent.onPlan(parentLink, subtree: subtree(of: 2, depth: 3), now: fleet.now)
        _ = agent.onLinkAccepted(adopterLink, hello: push(from: "n0"), announcement: incoming(), local: nil, now: fleet.now)
        _ = agent.onPlan(adopterLink, subtree: subtree(of: 2, depth: 2), now: fleet.now)
        _ = agent.onManifest(parentLink, manifest: fleet.manifest, actualKey: fleet.manifestKey, now: fleet.now)
        for i in 0..<4 { _ = agent.onChunk(parentLink, index: i, claimedKey: fleet.chunkKeys[i], actualKey: fleet.chunkKeys[i], now: fleet.now) }
        let done = agent.onCompiled(version, outcome: .compiled, now: fleet.now + .seconds(1))
        let toAdopter = Self.acksSent(done, on: adopterLink)
        #expect(toAdopter.count == 1, "the adopter is the ack parent: \(done)")
        #expect(Self.acksSent(done, on: parentLink) == toAdopter, "the replaced parent gets the same acks: \(done)")
    }

    // MARK: Only targets swap

    @Test func aNodeHoldingTheWholeBundleDoesNotSwapOnTheAnnouncementAlone() throws {
        var agent = machine("n2")
        let announced = agent.onAnnouncement(incoming(), local: complete, now: fleet.now)
        #expect(!announced.contains { if case .compile = $0 { true } else { false } }, "not contacted, not confirmed: \(announced)")
        // No parent comes: at the orphan deadline it asks the ledger whether it is a target, asking for nothing.
        let orphaned = agent.onTimer(.orphan(version), now: fleet.now + .seconds(10))
        let pull = try #require(
            orphaned.compactMap { action -> LinkID? in
                if case .connect(let link, let peer, .pull) = action, peer.id == "ledger" { return link }
                return nil
            }.first, "\(orphaned)")
        _ = agent.onLinkConnected(pull, now: fleet.now)
        let accepted = agent.onHello(pull, hello: Hello(header: FrameHeader(fleet: Self.plan.fleet, version: version), purpose: .accept, node: "ledger"), now: fleet.now)
        #expect(accepted.contains { if case .compile(self.version, _) = $0 { true } else { false } }, "the ledger accepted it: a target: \(accepted)")
    }

    @Test func aNodeTheLedgerSaysIsNotATargetNeverSwaps() throws {
        var agent = machine("n2")
        _ = agent.onAnnouncement(incoming(), local: complete, now: fleet.now)
        let orphaned = agent.onTimer(.orphan(version), now: fleet.now + .seconds(10))
        let pull = try #require(orphaned.compactMap { if case .connect(let link, _, .pull) = $0 { link } else { nil } }.first)
        _ = agent.onLinkConnected(pull, now: fleet.now)
        let bye = agent.onBye(pull, code: .notTargeted, reason: "n2 is not a target of v1", now: fleet.now)
        #expect(!bye.contains { if case .compile = $0 { true } else { false } })
        #expect(agent.current?.phase == .notTargeted)
    }

    // MARK: Link ids

    @Test func linkIdsAreNeverReusedAcrossVersions() throws {
        var agent = machine("n1")
        var seen = Set<LinkID>()
        var a = fleet.announcement
        for v in 1...3 {
            a.version = Version(UInt64(v))
            let hello = Hello(
                header: FrameHeader(fleet: Self.plan.fleet, version: a.version), purpose: .push, node: "n0",
                announcement: fleet.ledgerKey.envelope(a, context: .announce).canonicalBytes)
            _ = agent.onLinkAccepted(LinkID(inbound: UInt64(v)), hello: hello, announcement: incoming(a), local: nil, now: fleet.now)
            var s = subtree(of: 1, depth: 2)
            s.version = a.version
            for action in agent.onPlan(LinkID(inbound: UInt64(v)), subtree: s, now: fleet.now) {
                if case .connect(let link, _, _) = action { #expect(seen.insert(link).inserted, "\(link) used twice") }
            }
        }
        #expect(seen.count == 3)
    }
}
