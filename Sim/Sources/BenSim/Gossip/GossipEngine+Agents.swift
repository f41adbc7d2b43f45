import BenCore
import BenCrypto
import BenProtocol

extension GossipEngine {
    // MARK: The ledger

    /// The ledger signs announcement k, broadcasts it into the tree (it is a gossip member like any node), and
    /// publishes it on NATS, which reaches the nodes that have NATS (at the end of a partition for those cut off, as
    /// JetStream's last message does).
    func publish(_ k: Int) {
        let version = Version(UInt64(k + 1))
        let t = timestamp(now)
        let announcement = Announcement(
            fleet: topology.fleet, version: version, manifest: digestKey(k, 1), manifestSize: 4096, plan: digestKey(k, 2), topology: digestKey(k, 3),
            issuedAt: t, deadline: t + .seconds(600), expires: t + .seconds(86_400), ledger: "10.255.0.2:7400")
        let bytes = ledgerKey.envelope(announcement, context: .announce).canonicalBytes
        let document = GossipDocument(id: BLAKE2b.key(of: bytes), kind: .announcement, bytes: bytes)
        documents.append(document)
        documentIndex[document.id] = k
        signatureCache[document.id] = true
        publishedAt.append(now)
        learnedAt.append([Int64](repeating: -1, count: n + 1))
        learnedByGossip.append([Bool](repeating: false, count: n + 1))
        ackAtLedger.append([Int64](repeating: -1, count: n + 1))
        hops.append([])
        duplicatesAtPublish.append(broadcast.reduce(0) { $0 + $1.duplicates })
        graftsAtPublish.append(grafts)
        mix(now, -2, Int64(k))
        accepted[n] = Int32(k)
        learnedAt[k][n] = now
        apply(broadcast: broadcast[n].handle(.broadcast(document), now: t), at: ledger)
        updateLocal(ledger)
        for v in 0..<n where hasNATS[v] && !killed[v] {
            schedule(.nats(Int32(v), k), at: now + latency[tier(ledger, Int32(v))])
        }
    }

    func digestKey(_ k: Int, _ salt: UInt64) -> Key {
        Key(digest: (0..<4).flatMap { w in withUnsafeBytes(of: PlanHash.mix(seed, UInt64(k) &* 7 &+ salt, UInt64(w))) { Array($0) } })
    }

    // MARK: The agents

    /// A document the broadcast machine delivered: the agent checks its signature (real Ed25519, once per document)
    /// and accepts an announcement only when it is genuine and newer than what it accepted.
    func delivered(_ document: GossipDocument, at v: Int32) {
        guard document.kind == .announcement else { return }
        let genuine: Bool
        if let cached = signatureCache[document.id] {
            genuine = cached
        } else {
            var ok = false
            if let envelope = try? SignedEnvelope.decode(document.bytes, document: "announcement", maxBytes: Announcement.maxBytes) {
                ok = (try? envelope.verify(context: .announce, trusted: TrustedKeys([ledgerKey.publicKey]))) != nil
            }
            signatureCache[document.id] = ok
            genuine = ok
        }
        guard genuine, let k = documentIndex[document.id] else {
            if documentIndex[document.id] == nil && genuine {
                violations.append(.init(invariant: .unauthenticatedAdmitted, detail: "\(ids[Int(v)]) holds a document no ledger signed as genuine"))
            }
            return
        }
        if let round = broadcast[Int(v)].round(of: document.id) { hops[k].append(round) }
        accept(k, at: v, byGossip: true)
    }

    func accept(_ k: Int, at v: Int32, byGossip: Bool) {
        if learnedAt[k][Int(v)] < 0 {
            learnedAt[k][Int(v)] = now
            learnedByGossip[k][Int(v)] = byGossip
        }
        guard Int32(k) > accepted[Int(v)] else { return }
        accepted[Int(v)] = Int32(k)
        updateLocal(v)
        schedule(.activate(v, k), at: now + Self.ns(scenario.activation))
    }

    /// The node activated version k and signs its ack: over NATS if it can reach the ledger, else handed to gossip,
    /// whose anti-entropy finds it a peer that can.
    func activate(_ k: Int, at v: Int32) {
        var bytes = Array("{\"signed\":{\"node\":\"\(ids[Int(v)])\",\"version\":\(k + 1),\"status\":\"active\"}}".utf8)
        bytes += [UInt8](repeating: 0x20, count: max(0, 330 - bytes.count))
        let id = BLAKE2b.key(of: bytes)
        ackDocuments[id] = (v, k)
        let ack = GossipDocument(id: id, kind: .ack, bytes: bytes)
        apply(broadcast: broadcast[Int(v)].handle(.learned(ack), now: timestamp(now)), at: v)
        ownAck[Int(v)] = AckDigest(version: Version(UInt64(k + 1)), id: id, delivered: false)
        retryAck(v)
        updateLocal(v)
    }

    /// A node that can reach NATS publishes its undelivered ack itself.
    func retryAck(_ v: Int32) {
        guard var ack = ownAck[Int(v)], !ack.delivered, natsReachable(v), let (_, k) = ackDocuments[ack.id] else { return }
        ack.delivered = true
        ownAck[Int(v)] = ack
        schedule(.ackAtLedger(v, k), at: now + latency[tier(v, ledger)])
    }

    /// Tells the node's broadcast machine its version state.
    func updateLocal(_ v: Int32) {
        let k = Int(accepted[Int(v)])
        let digest = VersionDigest(
            highestAccepted: Version(UInt64(k + 1)), announcement: k >= 0 ? documents[k].id : nil, active: Version(UInt64(k + 1)), ack: ownAck[Int(v)],
            ledgerReachable: v == ledger || natsReachable(v))
        apply(broadcast: broadcast[Int(v)].handle(.localState(digest), now: timestamp(now)), at: v)
    }

    // MARK: Faults

    func placeFaults() throws(SimError) {
        var pool = (0..<Int32(n)).map { $0 }
        if let zone = scenario.natsCutZone {
            guard let z = zoneIndex(zone) else { throw SimError(.invalidValue, file: scenario.file, field: "nats.zone", problem: "no zone '\(zone)'", fix: "write REGION/ZONE as the topology names them") }
            for v in 0..<n where zoneOf[v] == z { hasNATS[v] = false }
        }
        if scenario.natsCut > 0 {
            for v in random.sample(pool, Int((scenario.natsCut * Double(n)).rounded())) { hasNATS[Int(v)] = false }
        }
        if let p = scenario.partition {
            guard let z = zoneIndex(p.zone) else { throw SimError(.invalidValue, file: scenario.file, field: "gremlin.partition.zone", problem: "no zone '\(p.zone)'", fix: "write REGION/ZONE as the topology names them") }
            guard Int(topology.ledger.zone) != z else {
                throw SimError(.invalidValue, file: scenario.file, field: "gremlin.partition.zone", problem: "the ledger is in \(p.zone)", fix: "cut off a zone the ledger is not in")
            }
            partitionZone = Int32(z)
            schedule(.partition(starts: true), at: Self.ns(p.from))
            schedule(.partition(starts: false), at: Self.ns(p.until))
        }
        random.shuffle(&pool)
        var next = 0
        if let kill = scenario.kill {
            let count = Int((kill.fraction * Double(n)).rounded())
            killedNodes = Array(pool[next..<min(pool.count, next + count)])
            next += killedNodes.count
            for v in killedNodes { schedule(.kill(v), at: Self.ns(kill.at)) }
        }
        if let pause = scenario.pause {
            let count = Int((pause.fraction * Double(n)).rounded())
            pausedNodes = Array(pool[next..<min(pool.count, next + count)])
            next += pausedNodes.count
            for v in pausedNodes {
                schedule(.pause(v), at: Self.ns(pause.from))
                schedule(.resume(v), at: Self.ns(pause.until))
                resumeAt[v] = Self.ns(pause.until)
            }
        }
        for k in 0..<scenario.impostors {
            schedule(.impostor(k), at: Int64(random.unit() * Double(Self.ns(scenario.duration))))
        }
    }

    func zoneIndex(_ path: String) -> Int? {
        let parts = path.split(separator: "/").map(String.init)
        guard parts.count == 2 else { return nil }
        return topology.zones.indices.first { topology.zones[$0].name == parts[1] && topology.regions[topology.zones[$0].region].name == parts[0] }
    }

    /// One forged datagram: an unlisted sender's alive claim, a listed sender's forged incarnation for a member of
    /// the victim's view, or an announcement signed by a key no one trusts.
    func impostor(_ k: Int) {
        let victim = Int32(random.below(n))
        guard !killed[Int(victim)], let claimed = views[Int(victim)].first, let from = index[claimed] else { return }
        switch scenario.membership ? k % 3 : 2 {
        case 0:
            let intruder = NodeID("intruder-\(k)")!
            let message = MembershipMessage.ping(sequence: UInt32(k), incarnation: 0, updates: [MemberUpdate(node: intruder, incarnation: 0, status: .alive)])
            // Sent under a listed id (the intruder has no topology key of its own), naming itself in the update.
            send(.membership(message), from: from, to: ids[Int(victim)], overLink: false, forged: true)
        case 1:
            let subject = views[Int(victim)].count > 1 ? views[Int(victim)][1] : claimed
            let message = MembershipMessage.ping(
                sequence: UInt32(k), incarnation: 0, updates: [MemberUpdate(node: subject, incarnation: 1_000_000 + Incarnation(k), status: .alive)])
            send(.membership(message), from: from, to: ids[Int(victim)], overLink: false, forged: true)
        default:
            let t = timestamp(now)
            let forged = Announcement(
                fleet: topology.fleet, version: Version(1000 + UInt64(k)), manifest: digestKey(k, 9), manifestSize: 4096, plan: digestKey(k, 10), topology: digestKey(k, 11),
                issuedAt: t, deadline: t + .seconds(600), expires: t + .seconds(86_400), ledger: "10.255.0.2:7400")
            let bytes = forgerKey.envelope(forged, context: .announce).canonicalBytes
            let document = GossipDocument(id: BLAKE2b.key(of: bytes), kind: .announcement, bytes: bytes)
            send(.broadcast(.gossip(document, round: 0)), from: from, to: ids[Int(victim)], overLink: false, forged: true)
        }
    }

    /// What a forged datagram could change: the victim's record of every member it names.
    func snapshot(_ v: Int32, _ message: MembershipMessage) -> [(NodeID, Incarnation?)] {
        message.updates.map { ($0.node, membership[Int(v)].status(of: $0.node)?.incarnation) }
    }

    /// A forged datagram was handled: no member the topology does not list may now be held, and no member may be
    /// held at an incarnation it never claimed itself.
    func checkForged(_ v: Int32, _ message: MembershipMessage, _ before: [(NodeID, Incarnation?)]) {
        for (member, old) in before {
            guard let now = membership[Int(v)].status(of: member) else { continue }
            guard let subject = index[member] else {
                violations.append(.init(invariant: .unauthenticatedAdmitted, detail: "\(ids[Int(v)]) admitted \(member), which the topology does not list"))
                continue
            }
            if now.incarnation != old, now.incarnation > trueIncarnation[Int(subject)] {
                violations.append(
                    .init(
                        invariant: .unauthenticatedAdmitted,
                        detail: "\(ids[Int(v)]) holds \(member) at incarnation \(now.incarnation), which \(member) never claimed (a forged datagram)"))
            }
        }
    }
}
