import BenCore
import BenProtocol
import Testing

/// The membership machine (SWIM with Lifeguard), input by input and as a small network: probes, suspicion and its
/// timing, refutation, death, rejoin, piggyback limits and refused datagrams.
@Suite struct GossipMembershipTests {
    static let names = ["a", "b", "c", "d", "e", "f"]
    static let roster = GossipFixtures.flat(names)
    let t0 = GossipFixtures.t0

    func machine(_ node: String = "a", view: [String] = ["b", "c", "d", "e"], roster: GossipRoster = Self.roster, settings: MembershipMachine.Settings = .init()) -> MembershipMachine {
        MembershipMachine(node: NodeID(node)!, fleet: GossipFixtures.fleet, roster: roster, view: view.map { NodeID($0)! }, seed: 9, settings: settings, now: t0)
    }

    static func ping(_ updates: [MemberUpdate] = [], sequence: UInt32 = 7, incarnation: Incarnation = 0) -> MembershipMessage {
        .ping(sequence: sequence, incarnation: incarnation, updates: updates)
    }

    static func sends(_ actions: [MembershipMachine.Action]) -> [(NodeID, MembershipMessage)] {
        actions.compactMap { if case .send(let to, let m) = $0 { (to, m) } else { nil } }
    }

    static func armed(_ actions: [MembershipMachine.Action], _ timer: MembershipMachine.Timer) -> Timestamp? {
        actions.compactMap { if case .armTimer(timer, let at) = $0 { at } else { nil } }.last
    }

    // MARK: The probe cycle

    /// Direct ping, then ping-req through k helpers, then suspicion, each at the time the settings give.
    @Test func aSilentTargetIsPingedThenProbedIndirectlyThenSuspected() throws {
        var a = machine()
        let start = a.handle(.start, now: t0)
        #expect(start.count == 1 && Self.armed(start, .probe) != nil)

        let tick = a.handle(.timerFired(.probe), now: t0)
        let (target, ping) = try #require(Self.sends(tick).first)
        guard case .ping(let sequence, 0, _) = ping else { Issue.record("expected a ping, got \(ping)"); return }
        #expect(Self.armed(tick, .probe) == t0 + .seconds(1))
        #expect(Self.armed(tick, .probeTimeout(sequence)) == t0 + .milliseconds(300))

        let timeout = a.handle(.timerFired(.probeTimeout(sequence)), now: t0 + .milliseconds(300))
        let requests = Self.sends(timeout)
        #expect(requests.count == 3, "k = 3 helpers")
        for (helper, message) in requests {
            #expect(helper != target)
            #expect(message == .pingRequest(sequence: sequence, incarnation: 0, target: target, updates: []))
        }
        #expect(Self.armed(timeout, .indirectTimeout(sequence)) == t0 + .milliseconds(900))

        let failed = a.handle(.timerFired(.indirectTimeout(sequence)), now: t0 + .milliseconds(900))
        #expect(failed.contains(.memberChanged(MemberChange(node: target, status: .suspect, incarnation: 0))))
        // N = 6: the floor is 4 × max(1, log10 6) × 1 s = 4 s; one suspecter gets the ceiling, 3 × 4 s.
        #expect(Self.armed(failed, .suspicion(target)) == t0 + .milliseconds(900) + .seconds(12))
        // Lifeguard's buddy system: the target is told at once, its own suspicion first.
        let buddy = Self.sends(failed).first { $0.0 == target }
        #expect(buddy?.1.updates.first == MemberUpdate(node: target, incarnation: 0, status: .suspect(by: "a")))
        #expect(a.status(of: target)?.status == .suspect)
        // Three helpers asked, no nack from any: local health rises by three.
        #expect(a.localHealth == 3)
    }

    /// Local health scales the probe interval and ping timeout (Lifeguard LHA-probe); nacks from the helpers mean
    /// the target, not this node, is in trouble; a good probe lowers it again.
    @Test func localHealthStretchesProbesAndRecovers() throws {
        var a = machine()
        _ = a.handle(.start, now: t0)
        let first = a.handle(.timerFired(.probe), now: t0)
        let (target, ping) = try #require(Self.sends(first).first)
        let requests = Self.sends(a.handle(.timerFired(.probeTimeout(ping.sequence)), now: t0 + .milliseconds(300)))
        // Two of the three helpers nack: health rises by the one missing nack only.
        for (helper, _) in requests.prefix(2) {
            _ = a.handle(.received(from: helper, .nack(sequence: ping.sequence, incarnation: 0, updates: []), .verified), now: t0 + .milliseconds(800))
        }
        _ = a.handle(.timerFired(.indirectTimeout(ping.sequence)), now: t0 + .milliseconds(900))
        #expect(a.localHealth == 1)
        #expect(a.status(of: target)?.status == .suspect)

        let second = a.handle(.timerFired(.probe), now: t0 + .seconds(1))
        #expect(Self.armed(second, .probe) == t0 + .seconds(3), "interval × (1 + 1)")
        let (next, ping2) = try #require(Self.sends(second).first)
        #expect(Self.armed(second, .probeTimeout(ping2.sequence)) == t0 + .seconds(1) + .milliseconds(600), "ping timeout × 2")
        let acked = a.handle(.received(from: next, .ack(sequence: ping2.sequence, incarnation: 0, updates: []), .verified), now: t0 + .seconds(1) + .milliseconds(2))
        #expect(acked.contains(.cancelTimer(.probeTimeout(ping2.sequence))))
        #expect(a.localHealth == 0)
    }

    /// A probe tick that comes while the indirect probes still have time (their timeout was handled late, as on a
    /// CPU-starved node, or stretched by local health that rose mid-probe) does not fail the probe: no suspicion, no
    /// charge for nacks not yet due; the next probe waits for this one to end, and a forwarded ack ends it well.
    @Test func aProbeTickWaitsForIndirectProbesThatStillHaveTime() throws {
        var a = machine()
        _ = a.handle(.start, now: t0)
        let tick = a.handle(.timerFired(.probe), now: t0)
        let (target, ping) = try #require(Self.sends(tick).first)
        #expect(Self.armed(tick, .probe) == t0 + .seconds(1))
        // The ping timeout is handled at 950 ms instead of 300 ms: the helpers have until 1 550 ms.
        let late = a.handle(.timerFired(.probeTimeout(ping.sequence)), now: t0 + .milliseconds(950))
        let helpers = Self.sends(late).map(\.0)
        #expect(helpers.count == 3)
        #expect(Self.armed(late, .indirectTimeout(ping.sequence)) == t0 + .milliseconds(1_550))
        let next = a.handle(.timerFired(.probe), now: t0 + .seconds(1))
        #expect(next == [.armTimer(.probe, at: t0 + .milliseconds(1_550))], "the tick waits for the probe under way")
        #expect(a.status(of: target)?.status == .alive)
        #expect(a.localHealth == 0)
        _ = a.handle(.received(from: helpers[0], .ack(sequence: ping.sequence, incarnation: 0, updates: []), .verified), now: t0 + .milliseconds(1_300))
        #expect(a.status(of: target)?.status == .alive)
        #expect(a.localHealth == 0)
        let resumed = a.handle(.timerFired(.probe), now: t0 + .milliseconds(1_550))
        #expect(Self.armed(resumed, .probe) == t0 + .milliseconds(2_550))
        #expect(Self.sends(resumed).count == 1, "the next probe goes")
    }

    /// A helper pings the target and forwards its ack, or nacks at 80 % of the indirect timeout.
    @Test func aHelperRelaysTheAckOrNacks() throws {
        var b = machine("b", view: ["a", "c"])
        let relayed = b.handle(.received(from: "a", .pingRequest(sequence: 41, incarnation: 0, target: "c", updates: []), .verified), now: t0)
        let (to, ping) = try #require(Self.sends(relayed).first)
        #expect(to == "c")
        #expect(Self.armed(relayed, .relayTimeout(ping.sequence)) == t0 + .milliseconds(480))
        let forwarded = b.handle(.received(from: "c", .ack(sequence: ping.sequence, incarnation: 0, updates: []), .verified), now: t0 + .milliseconds(3))
        #expect(Self.sends(forwarded).map(\.0) == ["a"])
        #expect(Self.sends(forwarded).first?.1 == .ack(sequence: 41, incarnation: 0, updates: []))

        let again = b.handle(.received(from: "a", .pingRequest(sequence: 42, incarnation: 0, target: "d", updates: []), .verified), now: t0)
        let relayPing = try #require(Self.sends(again).first).1
        let nack = b.handle(.timerFired(.relayTimeout(relayPing.sequence)), now: t0 + .milliseconds(480))
        #expect(Self.sends(nack).first?.1 == .nack(sequence: 42, incarnation: 0, updates: []))
    }

    // MARK: Suspicion timing

    /// Lifeguard LHA-suspicion: the timeout falls from its ceiling to its floor, logarithmically, as independent
    /// suspicions of the same incarnation arrive; more than K do nothing more.
    @Test(arguments: [(1, 12_000), (2, 6_953), (3, 4_000), (4, 4_000)])
    func suspicionTimeoutShrinksWithConfirmations(confirmations: Int, milliseconds: Int64) {
        #expect(machine().suspicionTimeout(confirmations: confirmations) == .milliseconds(milliseconds))
    }

    @Test func theFloorGrowsWithTheLogOfTheFleet() {
        let big = GossipFixtures.roster(racks: 10, perRack: 100)
        let m = MembershipMachine(node: "r0z0k0-0", fleet: GossipFixtures.fleet, roster: big, view: [], seed: 1, now: t0)
        #expect(m.suspicionTimeout(confirmations: 3) == .seconds(12), "4 × log10(1000) × 1 s")
        #expect(m.suspicionTimeout(confirmations: 1) == .seconds(36))
        #expect(m.retransmitLimit == 16, "λ = 4 × ⌈log10 1001⌉")
    }

    @Test func confirmationsFromOtherNodesBringTheDeathForward() {
        var a = machine()
        let at = t0 + .seconds(1)
        let first = a.handle(.received(from: "c", Self.ping([MemberUpdate(node: "b", incarnation: 0, status: .suspect(by: "c"))]), .verified), now: at)
        #expect(Self.armed(first, .suspicion("b")) == at + .seconds(12))
        let second = a.handle(.received(from: "d", Self.ping([MemberUpdate(node: "b", incarnation: 0, status: .suspect(by: "d"))]), .verified), now: at + .seconds(1))
        #expect(Self.armed(second, .suspicion("b")) == at + .milliseconds(6_953), "12 s − 8 s × ln 2 / ln 3")
        let repeated = a.handle(.received(from: "d", Self.ping([MemberUpdate(node: "b", incarnation: 0, status: .suspect(by: "d"))]), .verified), now: at + .seconds(2))
        #expect(Self.armed(repeated, .suspicion("b")) == nil, "the same suspecter twice is one confirmation")
        let third = a.handle(.received(from: "e", Self.ping([MemberUpdate(node: "b", incarnation: 0, status: .suspect(by: "e"))]), .verified), now: at + .seconds(2))
        #expect(Self.armed(third, .suspicion("b")) == at + .seconds(4))
        let early = a.handle(.timerFired(.suspicion("b")), now: at + .seconds(3))
        #expect(Self.armed(early, .suspicion("b")) == at + .seconds(4), "a timer that fires early is re-armed")
        let death = a.handle(.timerFired(.suspicion("b")), now: at + .seconds(4))
        #expect(death.contains(.memberChanged(MemberChange(node: "b", status: .dead, incarnation: 0))))
        #expect(a.status(of: "b")?.status == .dead)
    }

    /// A monitor that heard of a suspicion before its own probe of the member failed counts that failure as an
    /// independent confirmation (memberlist's `suspectNode`), and gossips it under its own name, so the other
    /// monitors count it too.
    @Test func aMonitorsOwnFailedProbeConfirmsASuspicionItHeardOf() throws {
        var a = machine()
        let heard = t0 + .seconds(1)
        let first = a.handle(.received(from: "c", Self.ping([MemberUpdate(node: "b", incarnation: 0, status: .suspect(by: "c"))]), .verified), now: heard)
        #expect(Self.armed(first, .suspicion("b")) == heard + .seconds(12))
        // Probes go round robin: every other target answers, until b's turn.
        var now = heard
        var failed: [MembershipMachine.Action] = []
        for _ in 0..<5 where failed.isEmpty {
            now = now + .seconds(1)
            let (target, ping) = try #require(Self.sends(a.handle(.timerFired(.probe), now: now)).first)
            if target != "b" {
                _ = a.handle(.received(from: target, .ack(sequence: ping.sequence, incarnation: 0, updates: []), .verified), now: now)
                continue
            }
            _ = a.handle(.timerFired(.probeTimeout(ping.sequence)), now: now + .milliseconds(300))
            failed = a.handle(.timerFired(.indirectTimeout(ping.sequence)), now: now + .milliseconds(900))
        }
        #expect(Self.armed(failed, .suspicion("b")) == heard + .milliseconds(6_953), "two suspecters: 12 s − 8 s × ln 2 / ln 3")
        #expect(!failed.contains { if case .memberChanged = $0 { true } else { false } }, "still suspect: nothing new to report")
        #expect(a.status(of: "b")?.status == .suspect)
        // The next message carries the confirmation under a's name.
        let reply = a.handle(.received(from: "d", Self.ping(sequence: 99), .verified), now: now + .seconds(1))
        let updates = Self.sends(reply).first { $0.0 == "d" }?.1.updates ?? []
        #expect(updates.contains(MemberUpdate(node: "b", incarnation: 0, status: .suspect(by: "a"))), "\(updates)")
    }

    // MARK: Precedence, refutation, rejoin

    struct Row: CustomStringConvertible, Sendable {
        var setup: [MemberUpdate]
        var update: MemberUpdate
        var status: MemberStatus
        var incarnation: Incarnation
        var description: String { "\(setup) then \(update) → \(status)(\(incarnation))" }
    }

    static func u(_ status: String, _ i: Incarnation) -> MemberUpdate {
        switch status {
        case "alive": MemberUpdate(node: "b", incarnation: i, status: .alive)
        case "suspect": MemberUpdate(node: "b", incarnation: i, status: .suspect(by: "c"))
        default: MemberUpdate(node: "b", incarnation: i, status: .dead(by: "c"))
        }
    }

    static let precedence: [Row] = [
        Row(setup: [], update: u("alive", 1), status: .alive, incarnation: 1),
        Row(setup: [], update: u("suspect", 0), status: .suspect, incarnation: 0),
        Row(setup: [u("alive", 2)], update: u("suspect", 1), status: .alive, incarnation: 2),
        Row(setup: [u("suspect", 1)], update: u("alive", 1), status: .suspect, incarnation: 1),
        Row(setup: [u("suspect", 1)], update: u("alive", 2), status: .alive, incarnation: 2),
        Row(setup: [u("suspect", 1)], update: u("suspect", 2), status: .suspect, incarnation: 2),
        Row(setup: [u("suspect", 1)], update: u("dead", 1), status: .dead, incarnation: 1),
        Row(setup: [u("dead", 1)], update: u("suspect", 5), status: .dead, incarnation: 1),
        Row(setup: [u("dead", 1)], update: u("alive", 1), status: .dead, incarnation: 1),
        Row(setup: [u("dead", 1)], update: u("alive", 2), status: .alive, incarnation: 2),
        Row(setup: [u("alive", 4)], update: u("dead", 3), status: .alive, incarnation: 4),
    ]

    @Test(arguments: precedence)
    func updatesFollowSWIMsPrecedence(row: Row) {
        var a = machine(view: ["b"])
        for (i, update) in row.setup.enumerated() {
            _ = a.handle(.received(from: "c", Self.ping([update]), .verified), now: t0 + .milliseconds(Int64(i)))
        }
        _ = a.handle(.received(from: "d", Self.ping([row.update]), .verified), now: t0 + .seconds(1))
        #expect(a.status(of: "b")?.status == row.status)
        #expect(a.status(of: "b")?.incarnation == row.incarnation)
    }

    @Test(arguments: [
        (MemberUpdate.Status.suspect(by: "b"), Incarnation(0), Incarnation(1)),
        (.dead(by: "b"), 0, 1),
        (.suspect(by: "b"), 5, 6),
    ])
    func aSuspectedNodeRefutesWithAHigherIncarnation(status: MemberUpdate.Status, claimed: Incarnation, after: Incarnation) throws {
        var a = machine()
        let actions = a.handle(.received(from: "b", Self.ping([MemberUpdate(node: "a", incarnation: claimed, status: status)]), .verified), now: t0)
        #expect(a.incarnation == after)
        #expect(actions.contains(.memberChanged(MemberChange(node: "a", status: .alive, incarnation: after))))
        let ack = try #require(Self.sends(actions).first { $0.0 == "b" }).1
        #expect(ack.incarnation == after)
        #expect(ack.updates.contains(MemberUpdate(node: "a", incarnation: after, status: .alive)))
        #expect(a.localHealth == 1, "being suspected is a sign of this node's own trouble")
        // A stale suspicion (below the incarnation now held) changes nothing.
        let stale = a.handle(.received(from: "c", Self.ping([MemberUpdate(node: "a", incarnation: claimed, status: status)]), .verified), now: t0)
        #expect(a.incarnation == after)
        #expect(!stale.contains { if case .memberChanged = $0 { true } else { false } })
    }

    /// A node declared dead gets a reconnect ping naming its death; its ack carries the refutation; it is alive
    /// again at the higher incarnation.
    @Test func aDeadMemberIsReconnectedAndRejoins() throws {
        var a = machine(view: ["b"])
        var b = machine("b", view: ["a"])
        _ = a.handle(.received(from: "c", Self.ping([MemberUpdate(node: "b", incarnation: 0, status: .dead(by: "c"))]), .verified), now: t0)
        #expect(a.status(of: "b")?.status == .dead)
        let early = a.handle(.timerFired(.probe), now: t0 + .seconds(1))
        #expect(Self.sends(early).isEmpty, "a dead member is not probed, and not reconnected before its interval")
        let reconnect = a.handle(.timerFired(.probe), now: t0 + .seconds(5))
        let (to, ping) = try #require(Self.sends(reconnect).first)
        #expect(to == "b")
        #expect(ping.updates.first == MemberUpdate(node: "b", incarnation: 0, status: .dead(by: "c")))
        let answer = b.handle(.received(from: "a", ping, .verified), now: t0 + .seconds(5))
        #expect(b.incarnation == 1)
        let ack = try #require(Self.sends(answer).first).1
        let rejoined = a.handle(.received(from: "b", ack, .verified), now: t0 + .seconds(5) + .milliseconds(2))
        #expect(rejoined.contains(.memberChanged(MemberChange(node: "b", status: .alive, incarnation: 1))))
        #expect(a.status(of: "b")?.status == .alive)
    }

    /// Any message to a member this node suspects carries the suspicion first, so the member can refute at once.
    @Test func aReplyToASuspectNamesItsSuspicionFirst() throws {
        var a = machine()
        _ = a.handle(.received(from: "c", Self.ping([MemberUpdate(node: "b", incarnation: 0, status: .suspect(by: "c"))]), .verified), now: t0)
        let actions = a.handle(.received(from: "b", Self.ping(), .verified), now: t0 + .milliseconds(10))
        let ack = try #require(Self.sends(actions).first).1
        #expect(ack.updates.first == MemberUpdate(node: "b", incarnation: 0, status: .suspect(by: "c")))
    }

    // MARK: Piggybacking

    /// At most `maxUpdatesPerMessage` updates, never past the datagram, least transmitted and most recent first, each sent
    /// at most λ·⌈log10(N + 1)⌉ times.
    @Test func piggybackingIsBoundedNewestFirstAndRetransmittedALimitedNumberOfTimes() throws {
        let roster = GossipFixtures.roster(racks: 2, perRack: 100)  // N = 200: limit 4 × 3 = 12
        let me: NodeID = "r0z0k0-0"
        var settings = MembershipMachine.Settings()
        settings.maxUpdatesPerMessage = 8
        var a = MembershipMachine(node: me, fleet: GossipFixtures.fleet, roster: roster, view: ["r0z0k0-1"], seed: 3, settings: settings, now: t0)
        let dead = (2..<22).map { MemberUpdate(node: NodeID("r0z0k0-\($0)")!, incarnation: 0, status: .dead(by: "r0z0k0-1")) }
        var carried: [[MemberUpdate]] = []
        for i in 0..<3 {
            let actions = a.handle(.received(from: "r0z0k0-1", Self.ping(i == 0 ? dead : [], sequence: UInt32(i)), .verified), now: t0 + .seconds(1))
            carried.append(try #require(Self.sends(actions).first).1.updates)
        }
        #expect(carried[0].map(\.node) == dead.suffix(8).reversed().map(\.node))
        #expect(carried[1].map(\.node) == dead.dropLast(8).suffix(8).reversed().map(\.node))
        // Then the once-sent, the most recently sent first.
        #expect(carried[2].map(\.node) == (dead.prefix(4).reversed() + dead.dropLast(8).suffix(4).reversed()).map(\.node))
        #expect(a.retransmitLimit == 12)
        for i in 3..<40 { _ = a.handle(.received(from: "r0z0k0-1", Self.ping(sequence: UInt32(i)), .verified), now: t0 + .seconds(2)) }
        #expect(a.pendingUpdates == 0, "20 updates × 12 transmissions ÷ 8 per message = 30 messages")
    }

    @Test func piggybackingNeverOverflowsTheDatagram() throws {
        // Long node ids: each dead update is about 260 bytes, so the 1400-byte datagram binds before the count.
        let long = (0..<30).map { GossipPeer(node: NodeID(String(repeating: "n", count: 120) + "-\($0)")!, location: GossipLocation(region: 0, zone: 0, rack: 0)) }
        let roster = GossipRoster(long)
        let ids = roster.peers.map(\.node).sorted()
        var settings = MembershipMachine.Settings()
        settings.maxUpdatesPerMessage = 64
        var a = MembershipMachine(node: ids[0], fleet: GossipFixtures.fleet, roster: roster, view: [ids[1]], seed: 3, settings: settings, now: t0)
        let updates = ids[2...].map { MemberUpdate(node: $0, incarnation: 0, status: .dead(by: ids[1])) }
        _ = a.handle(.received(from: ids[1], Self.ping(Array(updates)), .verified), now: t0)
        let actions = a.handle(.received(from: ids[1], Self.ping(), .verified), now: t0 + .seconds(1))
        let ack = try #require(Self.sends(actions).first).1
        let size = GossipWire.size(of: GossipDatagram(fleet: GossipFixtures.fleet, sender: ids[0], message: .membership(ack)))
        #expect(size <= 1400)
        #expect(ack.updates.count == 4, "\(size) bytes")
    }

    // MARK: Authentication

    @Test func refusedAndUnlistedSendersChangeNothing() {
        var a = machine()
        let before = a.members
        let suspicion = Self.ping([MemberUpdate(node: "a", incarnation: 0, status: .suspect(by: "b")), MemberUpdate(node: "c", incarnation: 0, status: .dead(by: "b"))])
        #expect(a.handle(.received(from: "b", suspicion, .refused("signature does not verify")), now: t0) == [.refused(from: "b", reason: "signature does not verify")])
        #expect(a.handle(.received(from: "mallory", suspicion, .verified), now: t0) == [.refused(from: "mallory", reason: "mallory is not in the topology")])
        #expect(a.handle(.received(from: "a", suspicion, .verified), now: t0).count == 1)
        #expect(a.members == before)
        #expect(a.incarnation == 0)
        // Updates naming nodes the topology does not list are dropped: they are never admitted.
        _ = a.handle(.received(from: "b", Self.ping([MemberUpdate(node: "mallory", incarnation: 9, status: .alive)]), .verified), now: t0)
        #expect(a.status(of: "mallory") == nil)
        _ = a.handle(.received(from: "b", .pingRequest(sequence: 1, incarnation: 0, target: "mallory", updates: []), .verified), now: t0)
        #expect(a.status(of: "mallory") == nil)
    }

    // MARK: A small network

    static func network(_ count: Int = 12, seed: UInt64 = 1) -> GossipTestNet {
        let roster = GossipFixtures.roster(racks: 3, perRack: count / 3)
        var views: [NodeID: [NodeID]] = [:]
        for peer in roster.peers { views[peer.node] = PeerSelection.view(of: peer.node, in: roster, quota: .init(inRack: 3, crossRack: 3, crossZone: 0, crossRegion: 0), seed: seed) }
        return GossipTestNet(roster: roster, views: views, membership: .init(), seed: seed)
    }

    @Test func aCrashedNodeIsDeclaredDeadByItsMonitorsAndNobodyElseIs() throws {
        var net = Self.network()
        net.startAll()
        net.run(for: .seconds(5))
        let victim: NodeID = "r0z0k1-2"
        net.silent.insert(victim)
        net.run(for: .seconds(40))
        let monitors = net.membership.values.filter { $0.members.contains { $0.node == victim && $0.probed } }.map(\.node)
        #expect(!monitors.isEmpty)
        for m in monitors { #expect(net.membership[m]!.status(of: victim)?.status == .dead, "\(m)") }
        // Bound: a probe within a view's round (6 s), 0.9 s of probing, then at most the suspicion ceiling (3 × 4 s).
        let firstDeath = net.changes.first { $0.2.node == victim && $0.2.status == .dead }
        #expect(firstDeath.map { $0.at - GossipFixtures.t0 <= .seconds(5 + 6 + 1 + 12) } == true)
        // Every monitor's failed probe confirms the suspicion, so it runs well short of its ceiling (3 × 4 s).
        let suspected = try #require(net.changes.first { $0.2.node == victim && $0.2.status == .suspect }?.at)
        let died = try #require(firstDeath?.at)
        #expect(died - suspected < .seconds(12), "suspected to dead: \(died - suspected)")
        #expect(!net.changes.contains { $0.2.node != victim && $0.2.status != .alive }, "no one else was suspected")
    }

    /// SIGSTOP then SIGCONT: suspected, declared dead, and after it resumes it refutes, rejoins with a higher
    /// incarnation, and no one is left holding it dead.
    @Test func aPausedNodeIsDeclaredDeadThenRefutesAndRejoins() {
        var net = Self.network()
        net.startAll()
        net.run(for: .seconds(5))
        let paused: NodeID = "r0z0k2-0"
        net.silent.insert(paused)
        net.run(for: .seconds(40))
        #expect(net.changes.contains { $0.2.node == paused && $0.2.status == .suspect })
        #expect(net.changes.contains { $0.2.node == paused && $0.2.status == .dead })
        net.silent.remove(paused)
        net.run(for: .seconds(20))
        #expect(net.membership[paused]!.incarnation >= 1)
        let opinions = net.opinions(of: paused)
        #expect(!opinions.isEmpty)
        #expect(opinions.values.allSatisfy { $0 == .alive }, "\(opinions)")
        #expect(net.largest <= 1400)
    }
}
