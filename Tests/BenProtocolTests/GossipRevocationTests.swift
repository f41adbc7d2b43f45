import BenCore
import BenProtocol
import Testing

/// Anti-entropy of the ledger's revocations (issue 16, item 3): the digest names the revocations a node keeps; a peer
/// whose digest differs is told the ids, and pulls those it lacks. A node that was away when a revocation went out
/// gets it with no broadcast and no operator.
@Suite struct GossipRevocationTests {
    let t0 = GossipFixtures.t0
    static let r1 = GossipFixtures.document(31, kind: .revocation, size: 500)
    static let r2 = GossipFixtures.document(32, kind: .revocation, size: 500)

    /// The digest the shell would send: the count and a hash of the sorted ids (a toy hash here).
    static func digest(_ documents: [GossipDocument]) -> RevocationDigest? {
        let ids = Set(documents.map(\.id)).sorted()
        return ids.isEmpty ? nil : RevocationDigest(count: UInt32(ids.count), hash: GossipFixtures.toyID(ids.flatMap(\.bytes)))
    }

    static func state(_ documents: [GossipDocument]) -> GossipMachine.VersionState {
        GossipMachine.VersionState(revocations: documents, revocationDigest: digest(documents))
    }

    func machine(_ node: String, view: [String]) -> BroadcastMachine {
        BroadcastMachine(
            node: NodeID(node)!, fleet: GossipFixtures.fleet, roster: GossipFixtures.flat(["a", "b", "c", "d"]), view: view.map { NodeID($0)! },
            seed: 3)
    }

    /// Only `a` keeps two revocations (it got them over NATS; nothing was broadcast). Every other node pulls them by
    /// anti-entropy, each delivered once per node; once every owner keeps them the digests agree and no more ids
    /// are sent.
    @Test func nodesThatMissedRevocationsPullThemFromAPeerUntilTheDigestsAgree() {
        var net = GossipMachineNet(["a", "b", "c", "d"])
        net.startAll()
        net.handle("a", .versionState(Self.state([Self.r2, Self.r1])))
        var kept: [NodeID: [GossipDocument]] = ["a": [Self.r2, Self.r1]]
        var seen = 0
        for _ in 0..<30 {
            net.run(for: .seconds(1))
            // The owner (the agent) keeps each revocation delivered to it, and says so with its version state.
            for event in net.events[seen...] {
                guard case .deliver(let document, _) = event.action, document.kind == .revocation else { continue }
                kept[event.node, default: []].append(document)
                net.handle(event.node, .versionState(Self.state(kept[event.node]!)))
            }
            seen = net.events.count
        }
        for node in ["b", "c", "d"] as [NodeID] {
            let delivered = net.events.filter { $0.node == node }.compactMap { if case .deliver(let d, _) = $0.action { d.id } else { nil } }
            #expect(Set(delivered) == [Self.r1.id, Self.r2.id], "\(node) got both: \(delivered.map(\.short))")
            #expect(delivered.count == 2, "each once at \(node)")
            #expect(net.nodes[node]!.digest.revocations == Self.digest([Self.r1, Self.r2]))
        }
        let settled = net.now
        net.run(for: .seconds(10))
        let offered = net.sent.filter { $0.at > settled && { if case .broadcast(.revocations) = $0 { true } else { false } }($0.message) }
        #expect(offered.isEmpty, "the digests agree: no ids are offered any more (\(offered.count))")
    }

    /// The exchange in detail: a differing digest is answered with the kept ids, which the peer pulls (not those it
    /// holds or has forgotten), and a kept revocation outlives the cache.
    @Test func aDifferingDigestIsAnsweredWithTheKeptIdsAndOnlyMissingOnesArePulled() {
        var a = machine("a", view: ["b"])
        _ = a.handle(.keep([Self.r1, Self.r2]), now: t0)
        _ = a.handle(.localState(VersionDigest(revocations: Self.digest([Self.r1, Self.r2]))), now: t0)
        let ids = [Self.r1.id, Self.r2.id].sorted()
        let answer = a.handle(.received(from: "b", .digest(VersionDigest(), reply: false), .verified), now: t0)
        #expect(answer == [.send(to: "b", .digest(a.local, reply: true)), .send(to: "b", .revocations(ids))])
        let same = a.handle(.received(from: "b", .digest(a.local, reply: true), .verified), now: t0)
        #expect(same.isEmpty, "an equal digest is not answered with ids")

        var b = machine("b", view: ["a"])
        _ = b.handle(.received(from: "a", .gossip(Self.r1, round: 0), .verified), now: t0)
        let pulls = b.handle(.received(from: "a", .revocations(ids), .verified), now: t0)
        #expect(pulls == [.send(to: "a", .pull(Self.r2.id)), .armTimer(.pull(Self.r2.id), at: t0 + .seconds(1))], "r1 is held: only r2")
        let got = b.handle(.received(from: "a", .document(Self.r2), .verified), now: t0 + .milliseconds(3))
        #expect(got.contains(.deliver(Self.r2, from: "a")))

        // Long after the cache retention, the kept ones are still held and served; b, which keeps none, forgot both
        // and does not pull them again (its owner did not keep them).
        let later = t0 + .seconds(3600)
        _ = a.handle(.timerFired(.evict), now: later)
        _ = b.handle(.timerFired(.evict), now: later)
        #expect(a.holds(Self.r1.id) && a.holds(Self.r2.id))
        #expect(a.handle(.received(from: "b", .pull(Self.r1.id), .verified), now: later) == [.send(to: "b", .document(Self.r1))])
        #expect(!b.holds(Self.r1.id))
        #expect(b.handle(.received(from: "a", .revocations(ids), .verified), now: later).isEmpty)
    }

    /// Many kept revocations go as several messages, each within a datagram; a peer naming many ids costs at most
    /// `maxRevocationPulls` pulls at once.
    @Test func manyIdsAreSplitToFitDatagramsAndPullsAreBounded() {
        let many = (0..<100).map { GossipFixtures.document(UInt8($0), kind: .revocation, size: 64) }
        var a = machine("a", view: ["b"])
        _ = a.handle(.keep(many), now: t0)
        _ = a.handle(.localState(VersionDigest(revocations: Self.digest(many))), now: t0)
        let sends = a.handle(.received(from: "b", .digest(VersionDigest(), reply: true), .verified), now: t0).compactMap { action -> [Key]? in
            if case .send(_, .revocations(let ids)) = action { ids } else { nil }
        }
        #expect(sends.count > 1 && sends.flatMap { $0 } == many.map(\.id).sorted())
        for ids in sends {
            let size = GossipWire.size(of: GossipDatagram(fleet: GossipFixtures.fleet, sender: "a", message: .broadcast(.revocations(ids))))
            #expect(size <= 1400)
        }
        var b = machine("b", view: ["a"])
        let pulls = b.handle(.received(from: "a", .revocations(many.map(\.id)), .verified), now: t0).filter {
            if case .send(_, .pull) = $0 { true } else { false }
        }
        #expect(pulls.count == BroadcastMachine.Settings().maxRevocationPulls)
    }
}
