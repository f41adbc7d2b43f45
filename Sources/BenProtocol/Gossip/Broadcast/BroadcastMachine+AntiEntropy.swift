public import BenCore

extension BroadcastMachine {
    /// The node's version state changed. When it holds an ack it cannot deliver itself (no NATS), it starts a digest
    /// exchange at once, so the ack need not wait a round.
    public mutating func onLocalState(_ digest: VersionDigest, now: Timestamp) -> [Action] {
        let before = local
        local = digest
        guard let ack = digest.ack, !ack.delivered, !digest.ledgerReachable, before.ack != ack || before.ledgerReachable else { return [] }
        return partners().map { .send(to: $0, .digest(local, reply: false)) }
    }

    /// One exchange per interval (jittered); four times as often while this node holds an ack it cannot deliver
    /// itself, until a peer has taken it.
    mutating func onAntiEntropyTick(now: Timestamp) -> [Action] {
        let waiting = local.ack.map { !$0.delivered && !local.ledgerReachable } ?? false
        let interval = Double(settings.antiEntropyInterval.milliseconds) / (waiting ? 4 : 1)
        let next = Duration.milliseconds(Int64(interval * (0.75 + 0.5 * random.unit())))
        return [.armTimer(.antiEntropy, at: now + next)] + partners().map { .send(to: $0, .digest(local, reply: false)) }
    }

    /// Whom to exchange digests with this round: a seeded-random member of the view; and while this node holds an ack
    /// it cannot deliver itself, also a seeded-random one of the peers last known to reach the ledger (either may
    /// have lost NATS or died since; two tries a round make a long wait unlikely).
    mutating func partners() -> [NodeID] {
        var out: [NodeID] = []
        if let ack = local.ack, !ack.delivered, !local.ledgerReachable, !ledgerPeers.isEmpty {
            out.append(ledgerPeers[random.below(ledgerPeers.count)])
        }
        if let peer = pickPartner(), !out.contains(peer) { out.append(peer) }
        return out
    }

    /// A seeded-random member of the view.
    mutating func pickPartner() -> NodeID? {
        view.isEmpty ? nil : view[random.below(view.count)]
    }

    /// Compares a peer's digest with this node's: pull a newer announcement; if this node reaches the ledger, pull the
    /// peer's undelivered ack; if the peer's revocations differ, tell it the ids this node keeps (it pulls what it
    /// lacks, and its own answer does the same the other way). The first leg of an exchange is answered with this
    /// node's digest.
    mutating func onDigest(_ digest: VersionDigest, reply: Bool, from sender: NodeID, now: Timestamp) -> [Action] {
        ledgerPeers.removeAll { $0 == sender }
        if digest.ledgerReachable {
            ledgerPeers.insert(sender, at: 0)
            if ledgerPeers.count > 8 { ledgerPeers.removeLast() }
        }
        var actions: [Action] = []
        if !reply { actions.append(.send(to: sender, .digest(local, reply: true))) }
        if digest.highestAccepted > local.highestAccepted, let id = digest.announcement, !holds(id) {
            actions += pull(id, from: sender, now: now)
        }
        if local.ledgerReachable, let ack = digest.ack, !ack.delivered {
            if case .held(let h) = messages[ack.id], h.published {
                actions.append(.send(to: sender, .ackRelayed(ack.id)))
            } else if !holds(ack.id) {
                actions += pull(ack.id, from: sender, now: now)
            }
        }
        if digest.revocations != local.revocations, !kept.isEmpty {
            let capacity = revocationCapacity
            var start = 0
            while start < kept.count {
                let end = min(kept.count, start + capacity)
                actions.append(.send(to: sender, .revocations(Array(kept[start..<end]))))
                start = end
            }
        }
        return actions
    }

    /// A peer keeps these revocations: pull those this node neither holds nor has seen (a forgotten id is one this
    /// node had and its owner did not keep), at most `maxRevocationPulls` at a time; the next exchange asks again.
    mutating func onRevocations(_ ids: [Key], from sender: NodeID, now: Timestamp) -> [Action] {
        var actions: [Action] = []
        for id in ids where pulls.count < settings.maxRevocationPulls {
            switch messages[id] {
            case .held, .forgotten: continue
            case nil, .announced: actions += pull(id, from: sender, now: now)
            }
        }
        return actions
    }

    /// The owner's revocations: each held (even one evicted before), and the set kept sorted for `.revocations`.
    ///
    /// A caller may rely on: nothing is sent or delivered.
    public mutating func onKeep(_ documents: [GossipDocument], now: Timestamp) -> [Action] {
        for document in documents {
            switch messages[document.id] {
            case .held: continue
            case .announced(let a):
                messages[document.id] = .held(
                    Held(document: document, gossip: nil, sources: a.sources, grafting: a.grafting, at: now, published: false))
            case nil, .forgotten:
                messages[document.id] = .held(
                    Held(document: document, gossip: nil, sources: [], grafting: false, at: now, published: false))
            }
        }
        kept = Set(documents.map(\.id)).sorted()
        return []
    }

    /// Revocation ids per datagram.
    var revocationCapacity: Int {
        let bare = GossipWire.size(of: GossipDatagram(fleet: fleet, sender: node, message: .broadcast(.revocations([]))))
        return max(1, min(255, (settings.maxDatagramBytes - bare) / 32))
    }

    mutating func pull(_ id: Key, from peer: NodeID, now: Timestamp) -> [Action] {
        guard pulls[id] == nil else { return [] }
        pulls[id] = peer
        return [.send(to: peer, .pull(id)), .armTimer(.pull(id), at: now + settings.pullTimeout)]
    }

    mutating func onPull(_ id: Key, from sender: NodeID) -> [Action] {
        guard case .held(let h) = messages[id] else { return [] }
        let message = BroadcastMessage.document(h.document)
        return [fits(message) ? .send(to: sender, message) : .sendOverLink(to: sender, message)]
    }

    /// The answer to a pull. An announcement (or alarm, or revocation) new to this node is delivered and pushed on
    /// into the tree, so the rest of a healed partition gets it by broadcast rather than each by its own pull. An
    /// ack is published toward the ledger, and its owner told.
    mutating func onDocument(_ document: GossipDocument, from sender: NodeID, now: Timestamp) -> [Action] {
        guard pulls.removeValue(forKey: document.id) != nil else {
            return [.refused(from: sender, reason: "a document this node did not pull")]
        }
        var actions: [Action] = [.cancelTimer(.pull(document.id))]
        if document.kind == .ack {
            guard !holds(document.id) else { return actions }
            messages[document.id] = .held(
                Held(document: document, gossip: nil, sources: [], grafting: false, at: now, published: local.ledgerReachable))
            if local.ledgerReachable {
                actions.append(.publishAck(document))
                actions.append(.send(to: sender, .ackRelayed(document.id)))
            }
            return actions
        }
        switch messages[document.id] {
        case .held, .forgotten: return actions
        case nil, .announced: break
        }
        actions += cancelGraft(document.id)
        messages[document.id] = .held(
            Held(document: document, gossip: Receipt(round: 0, parent: nil), sources: [], grafting: false, at: now, published: false))
        actions.append(.deliver(document, from: sender))
        actions += forward(document, round: 0, except: sender, now: now)
        return actions
    }

    mutating func onAckRelayed(_ id: Key) -> [Action] {
        guard var ack = local.ack, ack.id == id, !ack.delivered else { return [] }
        ack.delivered = true
        local.ack = ack
        return [.ackDelivered(id)]
    }

    /// Forgets old documents: bytes after `cacheRetention` (never those the digest names), ids after `idRetention`.
    mutating func onEvict(now: Timestamp) -> [Action] {
        let pinned = Set([local.announcement, local.ack?.id].compactMap { $0 } + kept)
        for (id, state) in messages {
            switch state {
            case .held(let h) where h.at + settings.cacheRetention <= now && !pinned.contains(id):
                messages[id] = .forgotten(since: h.at)
            case .forgotten(let since) where since + settings.idRetention <= now:
                messages[id] = nil
            case .announced(let a) where a.since + settings.idRetention <= now && !a.grafting:
                messages[id] = nil
            default: break
            }
        }
        return [.armTimer(.evict, at: now + settings.evictEvery)]
    }
}
