import BenCore
import BenProtocol
import BenTestKit
import Testing

/// Issue 13 items 5 and 7 at the agent machine: announcements from a ledger that lost its lease (an older epoch)
/// are refused, the highest epoch is durable, and expiry allows the documented clock skew.
@Suite struct AnnouncementFencingTests {
    static let plan = TestPlans.striped(nodes: 3, stripes: 1, fanOut: 1)
    let fleet = FleetHarness(plan: AnnouncementFencingTests.plan, chunkCount: 4)

    func machine(highestEpoch: UInt64 = 0) -> AgentMachine {
        AgentMachine(
            node: "n1", fleet: Self.plan.fleet, record: AgentRecord(active: nil, highestAccepted: .none, highestEpoch: highestEpoch),
            signer: KeySigner(key: fleet.nodeKeys["n1"]!))
    }

    /// The harness's announcement, changed as a test needs, and signed again.
    func incoming(version: Version? = nil, epoch: UInt64, issuedAt: Timestamp? = nil) -> IncomingAnnouncement {
        var a = fleet.announcement
        if let version { a.version = version }
        if let issuedAt { a.issuedAt = issuedAt }
        a.epoch = epoch
        return IncomingAnnouncement(announcement: a, envelope: fleet.ledgerKey.envelope(a, context: .announce).canonicalBytes, signature: .valid)
    }

    func persistedEpochs(_ actions: [AgentMachine.Action]) -> [UInt64] {
        actions.compactMap { if case .persist(let record) = $0 { record.highestEpoch } else { nil } }
    }

    func refusal(_ actions: [AgentMachine.Action]) -> AnnouncementRefusal? {
        actions.lazy.compactMap { if case .report(.announcementRefused(_, let reason)) = $0 { reason } else { nil } }.first
    }

    func accepted(_ actions: [AgentMachine.Action]) -> Bool {
        actions.contains { if case .report(.announcementAccepted) = $0 { true } else { false } }
    }

    @Test func aNewerVersionFromAnOlderEpochIsRefusedAfterANewerEpochWasAccepted() {
        var agent = machine()
        let first = agent.onAnnouncement(incoming(epoch: 5), local: nil, now: fleet.now)
        #expect(accepted(first))
        #expect(persistedEpochs(first) == [5], "the epoch is durable before anything is acted on: \(first)")
        #expect(agent.record.highestEpoch == 5)

        // A higher version, so only the epoch can refuse it.
        let stale = agent.onAnnouncement(incoming(version: Self.plan.version.next, epoch: 4), local: nil, now: fleet.now)
        #expect(refusal(stale) == .staleEpoch(4, highest: 5))
        #expect(!accepted(stale) && persistedEpochs(stale).isEmpty)
        #expect(agent.record.highestAccepted == Self.plan.version, "nothing of the stale announcement was taken")
        #expect(
            refusal(stale)?.description == "epoch 4 is older than epoch 5, which this node already accepted (a ledger that lost its lease)")

        // The same epoch, or a newer one, is fine.
        let next = agent.onAnnouncement(incoming(version: Self.plan.version.next, epoch: 5), local: nil, now: fleet.now)
        #expect(accepted(next))
    }

    @Test func aNewLeaseHolderReSigningTheSameAnnouncementRaisesTheFence() {
        var agent = machine()
        _ = agent.onAnnouncement(incoming(epoch: 3), local: nil, now: fleet.now)
        // The new holder signs the rollout in progress again under its epoch: the same version and issue time.
        let resigned = agent.onAnnouncement(incoming(epoch: 8), local: nil, now: fleet.now)
        #expect(!accepted(resigned), "a duplicate starts nothing")
        #expect(persistedEpochs(resigned) == [8])
        let old = agent.onAnnouncement(incoming(version: Self.plan.version.next, epoch: 3), local: nil, now: fleet.now)
        #expect(refusal(old) == .staleEpoch(3, highest: 8))
    }

    @Test func anAnnouncementRefusedAsNotNewerStillRaisesTheFence() {
        // The node runs v1 (restarted with it); a new lease holder re-publishes v1 under its epoch.
        var agent = AgentMachine(
            node: "n1", fleet: Self.plan.fleet,
            record: AgentRecord(active: ActiveVersion(version: Self.plan.version, manifest: fleet.manifestKey), highestAccepted: Self.plan.version,
                highestEpoch: 2),
            signer: KeySigner(key: fleet.nodeKeys["n1"]!))
        let again = agent.onAnnouncement(incoming(epoch: 6), local: nil, now: fleet.now)
        #expect(refusal(again) == .notNewer(running: Self.plan.version))
        #expect(persistedEpochs(again) == [6])
        let old = agent.onAnnouncement(incoming(version: Self.plan.version.next, epoch: 2), local: nil, now: fleet.now)
        #expect(refusal(old) == .staleEpoch(2, highest: 6))
        // A bad signature proves nothing.
        var forged = incoming(epoch: 99)
        forged.signature = .invalid("unknown key")
        #expect(persistedEpochs(agent.onAnnouncement(forged, local: nil, now: fleet.now)).isEmpty)
        #expect(agent.record.highestEpoch == 6)
    }

    @Test func theFenceSurvivesARestartAndAppliesToAParentsHello() {
        // The record as AgentStateFile reloads it after a restart.
        var agent = machine(highestEpoch: 12)
        let hello = Hello(
            header: FrameHeader(fleet: Self.plan.fleet, version: Self.plan.version), purpose: .push, node: "n0",
            announcement: incoming(epoch: 11).envelope)
        let actions = agent.onLinkAccepted(LinkID(inbound: 1), hello: hello, announcement: incoming(epoch: 11), local: nil, now: fleet.now)
        #expect(refusal(actions) == .staleEpoch(11, highest: 12))
        #expect(actions.contains { if case .close(_, .refusedAnnouncement, _) = $0 { true } else { false } }, "\(actions)")
        #expect(agent.current == nil)
    }

    @Test(arguments: [(Duration.seconds(-1), true), (.seconds(299), true), (.seconds(301), false)])
    func expiryAllowsTheDocumentedClockSkew(pastExpiry: Duration, accepts: Bool) {
        #expect(AgentMachine.expirySkewTolerance == .seconds(300))
        var agent = machine()
        let actions = agent.onAnnouncement(incoming(epoch: 1), local: nil, now: fleet.announcement.expires + pastExpiry)
        #expect(accepted(actions) == accepts, "\(actions)")
        if !accepts { #expect(refusal(actions) == .expired(at: fleet.announcement.expires)) }
    }
}
