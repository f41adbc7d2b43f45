import BenCore
import BenProtocol
import Testing

/// The broadcast machine (Plumtree with anti-entropy), input by input and as a small network: eager and lazy push,
/// PRUNE on duplicates, GRAFT after loss, tree repair, pulls after a partition, acks relayed to the ledger, sizes.
@Suite struct GossipBroadcastTests {
    static let names = ["s", "p1", "p2", "p3", "p4", "p5", "m"]
    static let roster = GossipFixtures.flat(names)
    let t0 = GossipFixtures.t0
    let doc = GossipFixtures.document(1)

    func machine(_ node: String = "s", view: [String] = ["p1", "p2", "p3", "p4", "p5"], settings: BroadcastMachine.Settings = .init()) -> BroadcastMachine {
        BroadcastMachine(node: NodeID(node)!, fleet: GossipFixtures.fleet, roster: Self.roster, view: view.map { NodeID($0)! }, seed: 5, settings: settings)
    }

    static func sends(_ actions: [BroadcastMachine.Action]) -> [(NodeID, BroadcastMessage)] {
        actions.compactMap { if case .send(let to, let m) = $0 { (to, m) } else { nil } }
    }

    static func armed(_ actions: [BroadcastMachine.Action], _ timer: BroadcastMachine.Timer) -> Timestamp? {
        actions.compactMap { if case .armTimer(timer, let at) = $0 { at } else { nil } }.last
    }

    static func delivered(_ actions: [BroadcastMachine.Action]) -> [GossipDocument] {
        actions.compactMap { if case .deliver(let d, _) = $0 { d } else { nil } }
    }

    // MARK: Eager and lazy push

    @Test func aBroadcastGoesWholeToEagerPeersAndByBatchedIHaveToTheRest() {
        var s = machine()
        #expect(s.eagerPeers == ["p1", "p2", "p3"])
        let actions = s.handle(.broadcast(doc), now: t0)
        #expect(Self.sends(actions).map(\.0) == ["p1", "p2", "p3"])
        #expect(Self.sends(actions).allSatisfy { $0.1 == .gossip(doc, round: 0) })
        #expect(Self.delivered(actions).isEmpty, "the originator has it")
        #expect(Self.armed(actions, .lazyPush) == t0 + .milliseconds(50))
        let lazy = s.handle(.timerFired(.lazyPush), now: t0 + .milliseconds(50))
        let entry = IHave(id: doc.id, round: 0, kind: .announcement, size: 600)
        #expect(Self.sends(lazy).map(\.0) == ["p4", "p5"])
        #expect(Self.sends(lazy).allSatisfy { $0.1 == .ihave([entry]) })
    }

    @Test func aDuplicateIsPrunedAndItsSenderBecomesLazy() {
        var m = machine("m", view: ["p1", "p2", "p3"])
        let first = m.handle(.received(from: "p1", .gossip(doc, round: 0), .verified), now: t0)
        #expect(Self.delivered(first) == [doc])
        #expect(Self.sends(first).allSatisfy { $0.1 == .gossip(doc, round: 1) } && Self.sends(first).map(\.0) == ["p2", "p3"])
        let second = m.handle(.received(from: "p2", .gossip(doc, round: 3), .verified), now: t0 + .milliseconds(1))
        #expect(second == [.send(to: "p2", .prune)])
        #expect(m.duplicates == 1)
        #expect(m.lazyPeers == ["p2"])
        _ = m.handle(.received(from: "p1", .prune, .verified), now: t0 + .milliseconds(2))
        #expect(m.eagerPeers == ["p3"])
    }

    // MARK: GRAFT

    @Test func aMissingDocumentIsGraftedFromItsAnnouncersInTurn() {
        var m = machine("m", view: ["p1", "p2", "p3", "p4", "p5"])
        let entry = IHave(id: doc.id, round: 2, kind: .announcement, size: 600)
        let heard = m.handle(.received(from: "p4", .ihave([entry]), .verified), now: t0)
        #expect(heard == [.armTimer(.graft(doc.id), at: t0 + .milliseconds(250))])
        _ = m.handle(.received(from: "p5", .ihave([IHave(id: doc.id, round: 1, kind: .announcement, size: 600)]), .verified), now: t0 + .milliseconds(5))
        let graft = m.handle(.timerFired(.graft(doc.id)), now: t0 + .milliseconds(250))
        #expect(graft == [.send(to: "p4", .graft(doc.id, round: 2)), .armTimer(.graft(doc.id), at: t0 + .milliseconds(350))])
        #expect(m.eagerPeers.contains("p4"))
        let retry = m.handle(.timerFired(.graft(doc.id)), now: t0 + .milliseconds(350))
        #expect(Self.sends(retry).map(\.0) == ["p5"])
        let arrives = m.handle(.received(from: "p5", .gossip(doc, round: 1), .verified), now: t0 + .milliseconds(352))
        #expect(Self.delivered(arrives) == [doc])
        #expect(arrives.contains(.cancelTimer(.graft(doc.id))))
        #expect(m.round(of: doc.id) == 2)
        #expect(m.handle(.timerFired(.graft(doc.id)), now: t0 + .milliseconds(450)).isEmpty, "a stale graft timer does nothing")
    }

    @Test func aGraftMakesThePeerEagerAndIsAnsweredWithTheDocument() {
        var s = machine()
        _ = s.handle(.broadcast(doc), now: t0)
        let answer = s.handle(.received(from: "p5", .graft(doc.id, round: 0), .verified), now: t0 + .milliseconds(300))
        #expect(answer == [.send(to: "p5", .gossip(doc, round: 0))])
        #expect(s.eagerPeers.contains("p5"))
    }

    /// Tree optimisation: an IHAVE whose path is `optimizationThreshold` hops shorter grafts that path in and prunes
    /// the tree parent.
    @Test func aMuchShorterLazyPathReplacesTheTreeParent() {
        var m = machine("m", view: ["p1", "p2"])
        _ = m.handle(.received(from: "p1", .gossip(doc, round: 9), .verified), now: t0)
        let better = m.handle(.received(from: "p2", .ihave([IHave(id: doc.id, round: 2, kind: .announcement, size: 600)]), .verified), now: t0 + .milliseconds(60))
        #expect(better == [.send(to: "p2", .graft(nil, round: 2)), .send(to: "p1", .prune)])
        #expect(m.eagerPeers == ["p2"])
        let slightly = m.handle(.received(from: "p1", .ihave([IHave(id: doc.id, round: 1, kind: .announcement, size: 600)]), .verified), now: t0 + .milliseconds(70))
        #expect(slightly.isEmpty, "the new parent's round (3) is within the threshold")
    }

    // MARK: Trees in a network

    static func network(count: Int = 24, seed: UInt64 = 2) -> (GossipTestNet, GossipRoster) {
        let roster = GossipFixtures.roster(zones: 2, racks: 3, perRack: count / 6)
        var views: [NodeID: [NodeID]] = [:]
        for peer in roster.peers { views[peer.node] = PeerSelection.view(of: peer.node, in: roster, quota: .init(inRack: 2, crossRack: 2, crossZone: 2, crossRegion: 0), seed: seed) }
        return (GossipTestNet(roster: roster, views: views, broadcast: .init(), seed: seed), roster)
    }

    /// The first broadcast prunes the eager links into a tree; the second from the same source has no duplicate.
    /// Then every eager link into one node is cut: it still gets the next document, by GRAFT after an IHAVE, and the
    /// one after that comes eagerly down the repaired tree with no graft wait.
    @Test func pruneBuildsATreeAndGraftRepairsIt() throws {
        var (net, roster) = Self.network()
        let source = roster.peers[0].node
        net.startAll()
        for (i, tag) in [UInt8(1), 2].enumerated() {
            let d = GossipFixtures.document(tag)
            net.apply(broadcast: net.broadcast[source]!.handle(.broadcast(d), now: net.now), at: source)
            net.run(for: .seconds(1))
            #expect(net.delivered.filter { $0.document == d }.count == roster.count - 1, "broadcast \(i + 1) reached everyone")
        }
        let afterFirst = net.broadcast.values.map(\.duplicates).reduce(0, +)
        #expect(afterFirst > 0, "the first broadcast had duplicates and pruned them")
        let second = net.sent.filter { if case .broadcast(.prune) = $0.2 { true } else { false } }.count
        #expect(second == afterFirst, "each duplicate was answered by one prune, and the second broadcast had none")

        let victim = roster.peers[roster.count - 1].node
        for (id, m) in net.broadcast where m.eagerPeers.contains(victim) { net.cut.insert([id, victim]) }
        let start = net.now
        let d3 = GossipFixtures.document(3)
        net.apply(broadcast: net.broadcast[source]!.handle(.broadcast(d3), now: net.now), at: source)
        net.run(for: .seconds(2))
        let repaired = try #require(net.delivered.first { $0.document == d3 && $0.node == victim })
        #expect(repaired.at - start >= .milliseconds(250), "it waited for the graft timeout")
        #expect(net.delivered.filter { $0.document == d3 }.count == roster.count - 1)

        let again = net.now
        let d4 = GossipFixtures.document(4)
        net.apply(broadcast: net.broadcast[source]!.handle(.broadcast(d4), now: net.now), at: source)
        net.run(for: .seconds(2))
        let eager = try #require(net.delivered.first { $0.document == d4 && $0.node == victim })
        #expect(eager.at - again < .milliseconds(50), "the grafted link is eager now")
        #expect(net.largest <= 1400)
    }

    // MARK: Anti-entropy

    @Test func aPeerWithANewerVersionIsPulledFromAndTheDocumentPushedOn() {
        var m = machine("m", view: ["p1", "p2", "p3"])
        _ = m.handle(.localState(VersionDigest(highestAccepted: 1)), now: t0)
        let digest = VersionDigest(highestAccepted: 2, announcement: doc.id, active: 1, ledgerReachable: true)
        let exchange = m.handle(.received(from: "p3", .digest(digest, reply: false), .verified), now: t0)
        #expect(exchange == [
            .send(to: "p3", .digest(VersionDigest(highestAccepted: 1), reply: true)),
            .send(to: "p3", .pull(doc.id)),
            .armTimer(.pull(doc.id), at: t0 + .seconds(1)),
        ])
        #expect(m.handle(.received(from: "p3", .digest(digest, reply: true), .verified), now: t0).isEmpty, "one pull in flight per document")
        let answer = m.handle(.received(from: "p3", .document(doc), .verified), now: t0 + .milliseconds(2))
        #expect(answer.first == .cancelTimer(.pull(doc.id)))
        #expect(Self.delivered(answer) == [doc])
        #expect(Self.sends(answer).map(\.0) == ["p1", "p2"], "pushed on into the tree, not back to where it came from")
        #expect(m.handle(.received(from: "p2", .document(doc), .verified), now: t0).first == .refused(from: "p2", reason: "a document this node did not pull"))
    }

    @Test func aPullThatTimesOutIsTriedAgainAtTheNextExchange() {
        var m = machine("m", view: ["p1"])
        let digest = VersionDigest(highestAccepted: 2, announcement: doc.id)
        #expect(Self.sends(m.handle(.received(from: "p1", .digest(digest, reply: true), .verified), now: t0)).map(\.1) == [.pull(doc.id)])
        _ = m.handle(.timerFired(.pull(doc.id)), now: t0 + .seconds(1))
        let again = m.handle(.received(from: "p1", .digest(digest, reply: true), .verified), now: t0 + .seconds(2))
        #expect(Self.sends(again).map(\.1) == [.pull(doc.id)])
    }

    /// A node whose announcement was lost in a partition catches up after the heal, with no IHAVE and no operator.
    @Test func aNodeCutOffDuringTheBroadcastCatchesUpByAntiEntropy() {
        var (net, roster) = Self.network()
        let source = roster.peers[0].node
        let island = roster.peers[roster.count - 1].node
        for peer in roster.peers where peer.node != island {
            net.cut.insert([peer.node, island])
            net.cut.insert([island, peer.node])
        }
        net.startAll()
        let d = GossipFixtures.document(7)
        net.apply(broadcast: net.broadcast[source]!.handle(.broadcast(d), now: net.now), at: source)
        net.run(for: .seconds(1))
        // The agents accept it: their digests now name it.
        for (_, node, document) in net.delivered where document == d {
            net.apply(broadcast: net.broadcast[node]!.handle(.localState(VersionDigest(highestAccepted: 7, announcement: d.id)), now: net.now), at: node)
        }
        net.apply(broadcast: net.broadcast[source]!.handle(.localState(VersionDigest(highestAccepted: 7, announcement: d.id)), now: net.now), at: source)
        #expect(!net.delivered.contains { $0.node == island })
        net.run(for: .seconds(5))
        #expect(!net.delivered.contains { $0.node == island }, "nothing reaches it while cut off")
        let heal = net.now
        net.cut = []
        net.run(for: .seconds(15))
        let caught = net.delivered.first { $0.node == island && $0.document == d }
        #expect(caught != nil)
        // Bound: its own exchanges (every 2 s ± ¼, half its view across the cut) or a peer's with it.
        #expect(caught.map { $0.at - heal <= .seconds(10) } == true)
    }

    /// The signed ack of a node with no NATS reaches the ledger through a peer that has it: digest, pull, publish,
    /// confirmation.
    @Test func theAckOfANodeCutOffFromNATSIsPublishedByAPeer() throws {
        let roster = GossipFixtures.flat(["cut", "relay"])
        var cut = BroadcastMachine(node: "cut", fleet: GossipFixtures.fleet, roster: roster, view: ["relay"], seed: 1)
        var relay = BroadcastMachine(node: "relay", fleet: GossipFixtures.fleet, roster: roster, view: ["cut"], seed: 1)
        _ = relay.handle(.localState(VersionDigest(highestAccepted: 1, ledgerReachable: true)), now: t0)
        let ack = GossipFixtures.document(9, kind: .ack, size: 330)
        _ = cut.handle(.learned(ack), now: t0)
        let state = VersionDigest(highestAccepted: 1, ack: AckDigest(version: 1, id: ack.id, delivered: false))
        let start = Self.sends(cut.handle(.localState(state), now: t0))
        #expect(start.map(\.0) == ["relay"], "an undelivered ack starts an exchange at once")
        let legs = relay.handle(.received(from: "cut", try #require(start.first).1, .verified), now: t0)
        #expect(Self.sends(legs).map(\.1).contains(.pull(ack.id)))
        let answer = cut.handle(.received(from: "relay", .pull(ack.id), .verified), now: t0)
        #expect(Self.sends(answer).map(\.1) == [.document(ack)])
        let published = relay.handle(.received(from: "cut", .document(ack), .verified), now: t0)
        #expect(published.contains(.publishAck(ack)))
        #expect(Self.sends(published).map(\.1).contains(.ackRelayed(ack.id)))
        let done = cut.handle(.received(from: "relay", .ackRelayed(ack.id), .verified), now: t0)
        #expect(done == [.ackDelivered(ack.id)])
        #expect(cut.local.ack?.delivered == true)
        // Asked again, the relay confirms without publishing twice.
        let repeated = relay.handle(.received(from: "cut", .digest(state, reply: false), .verified), now: t0)
        #expect(!repeated.contains(.publishAck(ack)))
        #expect(Self.sends(repeated).map(\.1).contains(.ackRelayed(ack.id)))
    }

    // MARK: NATS, sizes, authentication

    @Test func aDocumentLearnedFromNATSIsCarriedOnWhenTheTreeReachesTheNode() {
        var m = machine("m", view: ["p1", "p2", "p3", "p4"])
        #expect(m.handle(.learned(doc), now: t0).isEmpty)
        #expect(m.holds(doc.id))
        let tree = m.handle(.received(from: "p1", .gossip(doc, round: 0), .verified), now: t0 + .milliseconds(5))
        #expect(Self.delivered(tree).isEmpty, "the agent has it already")
        #expect(Self.sends(tree).map(\.0) == ["p2", "p3"])
        #expect(m.duplicates == 0)
        #expect(m.handle(.received(from: "p4", .gossip(doc, round: 0), .verified), now: t0 + .milliseconds(6)) == [.send(to: "p4", .prune)])
    }

    @Test func aDocumentTooLargeForADatagramGoesOverAPeerLink() {
        var s = machine()
        let big = GossipFixtures.document(4, size: 5000)
        let actions = s.handle(.broadcast(big), now: t0)
        let overLink = actions.compactMap { if case .sendOverLink(let to, .gossip(big, round: 0)) = $0 { to } else { nil } }
        #expect(overLink == ["p1", "p2", "p3"])
        let lazy = s.handle(.timerFired(.lazyPush), now: t0 + .milliseconds(50))
        #expect(Self.sends(lazy).allSatisfy { $0.1 == .ihave([IHave(id: big.id, round: 0, kind: .announcement, size: 5000)]) })
        #expect(s.handle(.received(from: "p4", .pull(big.id), .verified), now: t0) == [.sendOverLink(to: "p4", .document(big))])
    }

    @Test func ihavesAreSplitSoEveryDatagramFits() {
        var s = machine(view: ["p1"], settings: { var x = BroadcastMachine.Settings(); x.eagerPeers = 0; return x }())
        for tag in 1...80 { _ = s.handle(.broadcast(GossipFixtures.document(UInt8(tag))), now: t0) }
        let batches = Self.sends(s.handle(.timerFired(.lazyPush), now: t0 + .milliseconds(50)))
        #expect(batches.count == 3)
        #expect(batches.map { if case .ihave(let e) = $0.1 { e.count } else { 0 } }.reduce(0, +) == 80)
        for (_, message) in batches {
            #expect(GossipWire.size(of: GossipDatagram(fleet: GossipFixtures.fleet, sender: "s", message: .broadcast(message))) <= 1400)
        }
    }

    @Test func refusedAndUnlistedSendersChangeNothing() {
        var m = machine("m", view: ["p1"])
        #expect(m.handle(.received(from: "p1", .gossip(doc, round: 0), .refused("document signature does not verify")), now: t0)
            == [.refused(from: "p1", reason: "document signature does not verify")])
        #expect(m.handle(.received(from: "mallory", .gossip(doc, round: 0), .verified), now: t0) == [.refused(from: "mallory", reason: "mallory is not in the topology")])
        #expect(!m.holds(doc.id))
        let ack = GossipFixtures.document(2, kind: .ack)
        #expect(m.handle(.received(from: "p1", .gossip(ack, round: 0), .verified), now: t0) == [.refused(from: "p1", reason: "acks are not broadcast")])
        #expect(m.handle(.received(from: "p1", .gossip(doc, round: 0), .verified), now: t0).contains(.deliver(doc, from: "p1")))
    }
}
