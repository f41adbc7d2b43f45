public import BenCore

extension BroadcastMachine {
    // MARK: Inputs

    /// Arms the anti-entropy exchange (a seeded fraction of an interval from now) and the cache sweep.
    public mutating func onStart(now: Timestamp) -> [Action] {
        let first = Duration.milliseconds(Int64(random.below(Int(max(1, settings.antiEntropyInterval.milliseconds)))))
        return [.armTimer(.antiEntropy, at: now + first), .armTimer(.evict, at: now + settings.evictEvery)]
    }

    /// Originates a broadcast: the document goes whole to the eager neighbours and by IHAVE to the lazy ones.
    ///
    /// A caller may rely on: nothing is delivered back to this node; broadcasting a document already carried by the
    /// tree here does nothing.
    public mutating func onBroadcast(_ document: GossipDocument, now: Timestamp) -> [Action] {
        switch messages[document.id] {
        case .held(let h) where h.gossip != nil: return []
        case .forgotten: return []
        default: break
        }
        var actions = cancelGraft(document.id)
        messages[document.id] = .held(
            Held(document: document, gossip: Receipt(round: 0, parent: nil), sources: [], grafting: false, at: now, published: false))
        actions += forward(document, round: 0, except: nil, now: now)
        return actions
    }

    /// Keeps a document this node got another way. It is not delivered (the caller has it) and not forwarded (the
    /// tree will reach this node and go on from here, or grafts will).
    public mutating func onLearned(_ document: GossipDocument, now: Timestamp) -> [Action] {
        switch messages[document.id] {
        case .held, .forgotten: return []
        case .announced(let a):
            messages[document.id] = .held(
                Held(document: document, gossip: nil, sources: a.sources, grafting: a.grafting, at: now, published: false))
        case nil:
            messages[document.id] = .held(Held(document: document, gossip: nil, sources: [], grafting: false, at: now, published: false))
        }
        return []
    }

    /// A broadcast datagram arrived.
    ///
    /// A caller may rely on: a refused datagram, or one from a node not on the roster or claiming to be this node,
    /// yields exactly one `.refused` and changes nothing. A document is delivered at most once per node, the first
    /// time it arrives by any path.
    public mutating func onMessage(_ message: BroadcastMessage, from sender: NodeID, authentication: GossipAuthentication, now: Timestamp)
        -> [Action]
    {
        if case .refused(let reason) = authentication { return [.refused(from: sender, reason: reason)] }
        guard sender != node else { return [.refused(from: sender, reason: "a datagram claiming to come from this node")] }
        guard roster.contains(sender) else { return [.refused(from: sender, reason: "\(sender) is not in the topology")] }
        switch message {
        case .gossip(let document, let round): return onGossip(document, round: round, from: sender, now: now)
        case .ihave(let entries): return onIHave(entries, from: sender, now: now)
        case .graft(let id, let round): return onGraft(id, round: round, from: sender)
        case .prune:
            setEager(sender, false)
            return []
        case .digest(let digest, let reply): return onDigest(digest, reply: reply, from: sender, now: now)
        case .pull(let id): return onPull(id, from: sender)
        case .document(let document): return onDocument(document, from: sender, now: now)
        case .ackRelayed(let id): return onAckRelayed(id)
        case .revocations(let ids): return onRevocations(ids, from: sender, now: now)
        }
    }

    /// Membership says `peer` is down: it is neither eager nor lazy until it comes back, and nothing is queued for it.
    public mutating func onNeighborDown(_ peer: NodeID) -> [Action] {
        if let i = neighbors.firstIndex(where: { $0.id == peer }) {
            neighbors[i].up = false
            neighbors[i].eager = false
        }
        lazyQueue[peer] = nil
        return []
    }

    /// Membership says `peer` is up again: it is a neighbour again.
    public mutating func onNeighborUp(_ peer: NodeID) -> [Action] {
        if let i = neighbors.firstIndex(where: { $0.id == peer }) {
            neighbors[i].up = true
            neighbors[i].eager = true
        }
        return []
    }

    /// A timer fired. Stale timers (a graft for a document that arrived meanwhile) do nothing.
    public mutating func onTimer(_ timer: Timer, now: Timestamp) -> [Action] {
        switch timer {
        case .lazyPush: return onLazyPush()
        case .graft(let id): return onGraftTimeout(id, now: now)
        case .antiEntropy: return onAntiEntropyTick(now: now)
        case .pull(let id):
            pulls[id] = nil
            return []
        case .evict: return onEvict(now: now)
        }
    }

    // MARK: Plumtree

    mutating func onGossip(_ document: GossipDocument, round: UInt16, from sender: NodeID, now: Timestamp) -> [Action] {
        guard document.kind != .ack else { return [.refused(from: sender, reason: "acks are not broadcast")] }
        addNeighbor(sender)
        let arrived = round &+ 1
        switch messages[document.id] {
        case nil, .announced:
            var actions = cancelGraft(document.id)
            messages[document.id] = .held(
                Held(
                    document: document, gossip: Receipt(round: arrived, parent: sender), sources: [], grafting: false, at: now,
                    published: false))
            setEager(sender, true)
            actions.append(.deliver(document, from: sender))
            actions += forward(document, round: arrived, except: sender, now: now)
            return actions
        case .held(var h) where h.gossip == nil:
            // Held from elsewhere; the tree reaches this node now and goes on from here.
            var actions = cancelGraft(document.id)
            h.gossip = Receipt(round: arrived, parent: sender)
            h.sources = []
            h.grafting = false
            messages[document.id] = .held(h)
            setEager(sender, true)
            actions += forward(document, round: arrived, except: sender, now: now)
            return actions
        case .held, .forgotten:
            duplicates += 1
            setEager(sender, false)
            return [.send(to: sender, .prune)]
        }
    }

    mutating func onIHave(_ entries: [IHave], from sender: NodeID, now: Timestamp) -> [Action] {
        addNeighbor(sender)
        var actions: [Action] = []
        for entry in entries where entry.kind != .ack {
            let source = Source(peer: sender, round: entry.round)
            switch messages[entry.id] {
            case nil:
                messages[entry.id] = .announced(Announced(sources: [source], since: now, grafting: true))
                actions.append(.armTimer(.graft(entry.id), at: now + settings.graftTimeout))
            case .announced(var a):
                if a.sources.count < settings.maxSources && !a.sources.contains(where: { $0.peer == sender }) { a.sources.append(source) }
                if !a.grafting {
                    a.grafting = true
                    actions.append(.armTimer(.graft(entry.id), at: now + settings.graftTimeout))
                }
                messages[entry.id] = .announced(a)
            case .held(var h) where h.gossip == nil:
                if h.sources.count < settings.maxSources && !h.sources.contains(where: { $0.peer == sender }) { h.sources.append(source) }
                if !h.grafting {
                    h.grafting = true
                    actions.append(.armTimer(.graft(entry.id), at: now + settings.graftTimeout))
                }
                messages[entry.id] = .held(h)
            case .held(var h):
                // Tree optimisation: a lazy path much shorter than the tree's replaces the tree parent.
                guard settings.optimizationThreshold > 0, let receipt = h.gossip, let parent = receipt.parent, parent != sender,
                    Int(entry.round) + 1 + settings.optimizationThreshold <= Int(receipt.round)
                else { continue }
                setEager(sender, true)
                setEager(parent, false)
                h.gossip = Receipt(round: entry.round &+ 1, parent: sender)
                messages[entry.id] = .held(h)
                actions.append(.send(to: sender, .graft(nil, round: entry.round)))
                actions.append(.send(to: parent, .prune))
            case .forgotten:
                continue
            }
        }
        return actions
    }

    mutating func onGraft(_ id: Key?, round: UInt16, from sender: NodeID) -> [Action] {
        addNeighbor(sender)
        setEager(sender, true)
        guard let id, case .held(let h) = messages[id] else { return [] }
        let message = BroadcastMessage.gossip(h.document, round: h.gossip?.round ?? 0)
        return [fits(message) ? .send(to: sender, message) : .sendOverLink(to: sender, message)]
    }

    /// The eager copy is late: graft the next announcer that is up, and give the one after it `graftRetry`.
    mutating func onGraftTimeout(_ id: Key, now: Timestamp) -> [Action] {
        var sources: [Source]
        switch messages[id] {
        case .announced(let a): sources = a.sources
        case .held(let h) where h.gossip == nil: sources = h.sources
        default: return []
        }
        var chosen: Source?
        while !sources.isEmpty {
            let s = sources.removeFirst()
            if neighbors.first(where: { $0.id == s.peer })?.up ?? true {
                chosen = s
                break
            }
        }
        let grafting = chosen != nil
        switch messages[id] {
        case .announced(var a):
            a.sources = sources
            a.grafting = grafting
            messages[id] = .announced(a)
        case .held(var h):
            h.sources = sources
            h.grafting = grafting
            messages[id] = .held(h)
        default: break
        }
        guard let chosen else { return [] }
        setEager(chosen.peer, true)
        return [.send(to: chosen.peer, .graft(id, round: chosen.round)), .armTimer(.graft(id), at: now + settings.graftRetry)]
    }

    mutating func onLazyPush() -> [Action] {
        lazyArmed = false
        let capacity = ihaveCapacity
        var actions: [Action] = []
        for peer in lazyQueue.keys.sorted() {
            let entries = lazyQueue[peer]!
            var start = 0
            while start < entries.count {
                let end = min(entries.count, start + capacity)
                actions.append(.send(to: peer, .ihave(Array(entries[start..<end]))))
                start = end
            }
        }
        lazyQueue = [:]
        return actions
    }

    // MARK: Helpers

    /// Pushes a document on: whole to eager neighbours (by datagram when it fits, else over a peer link), by IHAVE
    /// to the lazy ones (batched).
    mutating func forward(_ document: GossipDocument, round: UInt16, except: NodeID?, now: Timestamp) -> [Action] {
        var actions: [Action] = []
        let message = BroadcastMessage.gossip(document, round: round)
        let inline = fits(message)
        let entry = IHave(id: document.id, round: round, kind: document.kind, size: UInt32(document.bytes.count))
        for n in neighbors where n.up && n.id != except {
            if n.eager {
                actions.append(inline ? .send(to: n.id, message) : .sendOverLink(to: n.id, message))
            } else {
                lazyQueue[n.id, default: []].append(entry)
            }
        }
        if !lazyQueue.isEmpty && !lazyArmed {
            lazyArmed = true
            actions.append(.armTimer(.lazyPush, at: now + settings.lazyPushDelay))
        }
        return actions
    }

    mutating func cancelGraft(_ id: Key) -> [Action] {
        switch messages[id] {
        case .announced(let a) where a.grafting: return [.cancelTimer(.graft(id))]
        case .held(let h) where h.grafting: return [.cancelTimer(.graft(id))]
        default: return []
        }
    }

    func fits(_ message: BroadcastMessage) -> Bool {
        GossipWire.size(of: GossipDatagram(fleet: fleet, sender: node, message: .broadcast(message))) <= settings.maxDatagramBytes
    }

    /// IHAVE entries per datagram.
    var ihaveCapacity: Int {
        let bare = GossipWire.size(of: GossipDatagram(fleet: fleet, sender: node, message: .broadcast(.ihave([]))))
        return max(1, min(255, (settings.maxDatagramBytes - bare) / GossipWire.ihaveEntryBytes))
    }

    /// Takes a node that has this node in its view as a neighbour too (lazy), up to `maxNeighbors`.
    mutating func addNeighbor(_ peer: NodeID) {
        guard !neighbors.contains(where: { $0.id == peer }), neighbors.count < settings.maxNeighbors else { return }
        neighbors.append(Neighbor(id: peer, eager: false, up: true))
    }

    mutating func setEager(_ peer: NodeID, _ eager: Bool) {
        if let i = neighbors.firstIndex(where: { $0.id == peer }) {
            neighbors[i].eager = eager
            if eager { neighbors[i].up = true }
        }
    }
}
