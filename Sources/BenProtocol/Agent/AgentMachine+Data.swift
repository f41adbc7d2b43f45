public import BenCore

extension AgentMachine {
    /// A parent sent this node's subtree of one stripe tree. The node connects to its children in that tree;
    /// in stripe tree 0 the sender also becomes the parent its aggregate goes to.
    public mutating func onPlan(_ link: LinkID, subtree: Subtree, now: Timestamp) -> [Action] {
        guard var d = deployment, var parent = d.parents[link] else {
            return [.close(link, .protocolError, reason: "PLAN on a link that is not from a parent")]
        }
        d.lastHeard[link] = now
        guard subtree.root.id == node, subtree.fleet == fleet, subtree.version == d.version else {
            return [
                .report(.protocolViolation(link, "PLAN for \(subtree.root.id) \(subtree.version), not this node's")),
                .close(link, .protocolError, reason: "PLAN is not for this node and version"),
            ]
        }
        if d.relay.stripeCount != subtree.stripeCount {
            guard d.subtrees.isEmpty else {
                return [
                    .close(
                        link, .protocolError, reason: "PLAN says \(subtree.stripeCount) stripes; another parent said \(d.relay.stripeCount)"
                    )
                ]
            }
            d.relay.setStripeCount(subtree.stripeCount)
        }
        parent.stripes.insert(subtree.stripe)
        d.parents[link] = parent
        d.subtrees[subtree.stripe] = subtree
        var actions: [Action] = []
        for child in subtree.children(of: 0) {
            actions += lift(d.relay.addChild(subtree.subtree(at: child)))
        }
        if subtree.stripe == 0 {
            d.ackHeight = subtree.height
            d.takeAckParent(link)
            actions.append(.armTimer(.ackDeadline(d.version), at: ackDeadline(d)))
        }
        deployment = d
        if subtree.stripe == 0 && d.acks.hasSentUp {
            // A new ack parent (an adopter): it has none of what went to the old one, so everything goes again.
            deployment!.acks.sentAcks = []
            deployment!.acks.uplink = .sent(ownIncluded: false)
            actions += sendAggregate(now: now, final: true)
        } else if subtree.stripe == 0 {
            // A node that finished before its parent came (it held the bundle already) acks now.
            actions += maybeSendAggregate(now: now)
        }
        return actions
    }

    /// When this node sends its aggregate even if acks are missing: earlier the deeper it is, so its parent
    /// still has time to pass it on.
    ///
    /// Each level gets `ackStep`, or less when the deadline is short for the tree's depth: the span from issue to
    /// deadline is shared out over this node's path (its depth plus the height of its subtree), so even the
    /// deepest node has time to finish before it reports, and each parent still reports after its children.
    func ackDeadline(_ d: Deployment) -> Timestamp {
        let span = d.announcement.deadline - d.announcement.issuedAt
        let levels = d.ackDepth + d.ackHeight + 1
        let step = min(settings.ackStep, span / levels)
        return d.announcement.deadline - step * d.ackDepth
    }

    /// The manifest arrived (from a parent or a pull). `manifest` is the shell's reading of it, nil if
    /// unreadable; `actualKey` is the hash of the bytes that came.
    public mutating func onManifest(_ link: LinkID, manifest: Manifest?, actualKey: Key, now: Timestamp) -> [Action] {
        guard var d = deployment else { return [] }
        guard d.chunkKeys == nil else { return [] }
        // Bytes still arriving on a link this node already dropped (a distrusted parent) are not looked at.
        guard let source = sourceNode(of: link, in: d) else { return [] }
        d.lastHeard[link] = now
        guard actualKey == d.announcement.manifest, let manifest else {
            deployment = d
            return distrust(source, link: link, report: .tamperedManifest(from: source), now: now, refetchManifest: true)
        }
        let keys = manifest.chunkKeys
        d.chunkKeys = keys
        d.chunkBytes = manifest.artifacts.map(\.chunkSize).max() ?? 0
        if d.have.count != keys.count { d.have = ChunkSet(count: keys.count) }
        var actions: [Action] = [.storeManifest(actualKey)]
        actions += lift(d.relay.manifestKnown(keys))
        for link in d.pulls.keys.sorted() { d.pulls[link]!.wanted.remove(NackEntry.manifestIndex) }
        deployment = d
        actions += pullsChanged()
        if d.isOrphaned { actions += fetch(Set(missingAll().map(UInt32.init)), now: now) }
        actions += checkComplete(now: now)
        return actions
    }

    /// A chunk arrived and the shell hashed it. It is stored and forwarded only if it is the chunk the manifest
    /// names at that index and its bytes hash to that key; otherwise its sender is distrusted and the chunk is
    /// fetched elsewhere.
    public mutating func onChunk(_ link: LinkID, index: Int, claimedKey: Key, actualKey: Key, now: Timestamp) -> [Action] {
        guard var d = deployment else { return [] }
        guard let source = sourceNode(of: link, in: d) else { return [] }
        d.lastHeard[link] = now
        guard let keys = d.chunkKeys else {
            return [.report(.protocolViolation(link, "chunk \(index) before the manifest"))]
        }
        guard index >= 0, index < keys.count, claimedKey == keys[index], actualKey == claimedKey else {
            deployment = d
            var actions: [Action] = [.send(link, .nack([NackEntry(index: UInt32(clamping: index), code: .tampered)]))]
            actions += distrust(source, link: link, report: .tamperedChunk(index: index, from: source), now: now, refetchManifest: false)
            if index >= 0 && index < keys.count { actions += fetch([UInt32(index)], now: now) }
            return actions
        }
        if d.untrusted.contains(source) { return [] }
        for pullLink in d.pulls.keys.sorted() { d.pulls[pullLink]!.wanted.remove(UInt32(index)) }
        guard !d.have.contains(index) else {
            deployment = d
            return pullsChanged()
        }
        d.have.insert(index)
        var actions: [Action] = [.storeChunk(index: index, key: claimedKey)]
        actions += lift(d.relay.onChunkAvailable(index))
        actions += lift(d.serving.onHave(index, chunkKeys: d.chunkKeys))
        deployment = d
        actions += pullsChanged()
        actions += checkComplete(now: now)
        return actions
    }

    /// A chunk frame this node sent has left: the next one may go.
    public mutating func onChunkSent(_ link: LinkID, index: Int, now: Timestamp? = nil) -> [Action] {
        guard var d = deployment else { return [] }
        if let now, let child = d.relay.child(on: link) { d.lastSentTo[child] = now }
        if d.serving.isServing(link) {
            let actions = lift(d.serving.onSent(link, chunkKeys: d.chunkKeys))
            deployment = d
            return actions
        }
        let actions = lift(d.relay.onSent(link, index: index))
        deployment = d
        return actions
    }

    /// NACK: a puller wants chunks, a holder lacks some, a parent hands off chunks its upload is behind on, or a
    /// child refused what it was sent.
    public mutating func onNack(_ link: LinkID, entries: [NackEntry], now: Timestamp) -> [Action] {
        guard var d = deployment else { return [] }
        if d.serving.isServing(link) {
            let actions = lift(
                d.serving.onWant(
                    link, entries: entries, have: d.have, chunkKeys: d.chunkKeys, manifest: d.announcement.manifest,
                    expected: { [d, window = settings.sendWindow] in d.expectsSoon($0, within: window) }))
            deployment = d
            return actions
        }
        let lacking = Set(entries.filter { $0.code == .lacking }.map(\.index))
        if var pull = d.pulls[link] {
            pull.wanted.subtract(lacking)
            d.pulls[link] = pull
            if !lacking.isEmpty && pull.source.id != Self.ledgerID { d.exhaustedSources.insert(pull.source.id) }
            deployment = d
            var actions = pull.wanted.isEmpty ? finishPull(link) : []
            if pull.source.id != Self.ledgerID { actions += fetch(lacking, now: now) }
            return actions
        }
        if d.parents[link] != nil {
            // A parent's NACK: chunks it hands off, or (empty) a keepalive while it waits on its own parent.
            d.lastHeard[link] = now
            deployment = d
            return fetch(lacking, now: now)
        }
        let actions = lift(d.relay.onChildNack(link, entries: entries))
        deployment = d
        return actions
    }

    // MARK: Fetching from elsewhere

    /// Asks the best available holder (a backup, then the ledger's store) for these chunks.
    mutating func fetch(_ wanted: Set<UInt32>, now: Timestamp) -> [Action] {
        guard var d = deployment, !wanted.isEmpty, d.phase == .receiving || d.phase == .compiling else { return [] }
        let needed = wanted.subtracting(d.requested).filter {
            $0 == NackEntry.manifestIndex ? d.chunkKeys == nil : !d.have.contains(Int($0))
        }
        guard !needed.isEmpty else { return [] }
        let candidates = d.pullCandidates()
        let source = candidates[0]
        if let (link, pull) = d.pulls.first(where: { $0.value.source.id == source.id }) {
            d.pulls[link]!.wanted.formUnion(needed)
            deployment = d
            guard pull.phase == .requested else { return [] }
            return [.send(link, .nack(needed.sorted().map { NackEntry(index: $0, code: .want) }))]
        }
        let link = d.relay.allocateLink()
        d.pulls[link] = Deployment.Pull(source: source, phase: .connecting, wanted: needed)
        d.lastHeard[link] = now
        deployment = d
        return [.connect(link, peer: source, purpose: .pull)]
    }

    /// Closes pull links that have nothing left to fetch.
    mutating func pullsChanged() -> [Action] {
        guard let d = deployment else { return [] }
        var actions: [Action] = []
        for (link, pull) in d.pulls.sorted(by: { $0.key < $1.key }) where pull.wanted.isEmpty && pull.phase == .requested {
            actions += finishPull(link)
        }
        return actions
    }

    /// An orphan that already holds the whole bundle asks the ledger for nothing, only to learn whether it is a
    /// target (the ledger accepts or says `notTargeted`).
    mutating func confirmTarget(now: Timestamp) -> [Action] {
        guard var d = deployment, !d.pulls.values.contains(where: { $0.source.id == Self.ledgerID }) else { return [] }
        let link = d.relay.allocateLink()
        d.pulls[link] = Deployment.Pull(source: d.ledgerNode, phase: .connecting, wanted: [])
        d.lastHeard[link] = now
        deployment = d
        return [.connect(link, peer: d.ledgerNode, purpose: .pull)]
    }

    mutating func finishPull(_ link: LinkID) -> [Action] {
        deployment?.pulls[link] = nil
        return [.close(link, .done, reason: "fetched")]
    }

    /// Stops taking bytes from a node that served bad ones, reports it, and fetches what it was to supply.
    mutating func distrust(_ source: NodeID, link: LinkID, report: PeerReport, now: Timestamp, refetchManifest: Bool) -> [Action] {
        guard var d = deployment else { return [] }
        var actions: [Action] = [.report(report)]
        if d.untrusted.insert(source).inserted, source != Self.ledgerID {
            let detail: String
            switch report {
            case .tamperedChunk(let index, _): detail = "served chunk \(index) with bytes that do not match its key"
            default: detail = "served a manifest that does not match the announced key"
            }
            // Signed by this node, naming the link's authenticated peer: the ledger believes no one else about it.
            d.reports.append(
                signer.sign(TamperReport(fleet: fleet, version: d.version, node: node, relay: source, detail: detail, at: now)))
        }
        var wanted = Set<UInt32>()
        if let parent = d.parents.removeValue(forKey: link) {
            // Nothing more is taken from this parent: close its link, and fetch its stripes elsewhere.
            for stripe in parent.stripes { wanted.formUnion(d.missing(inStripe: stripe).map(UInt32.init)) }
            d.loseAckParent(link)
            actions.append(.close(link, .protocolError, reason: "served bytes that do not match their key"))
        }
        if let pull = d.pulls.removeValue(forKey: link) {
            wanted.formUnion(pull.wanted)
            actions.append(.close(link, .protocolError, reason: "served tampered bytes"))
        }
        if refetchManifest || d.chunkKeys == nil { wanted.insert(NackEntry.manifestIndex) }
        deployment = d
        return actions + fetch(wanted, now: now) + maybeSendAggregate(now: now)
    }

    /// Who is sending on `link`: a parent or a holder this node pulls from; nil for any other link (chunks are
    /// only taken from those two).
    func sourceNode(of link: LinkID, in d: Deployment) -> NodeID? {
        if let parent = d.parents[link] { return parent.node }
        if let pull = d.pulls[link] { return pull.source.id }
        return nil
    }

    func missingAll() -> [Int] {
        guard let d = deployment, let keys = d.chunkKeys else { return [] }
        return (0..<keys.count).filter { !d.have.contains($0) }
    }

    // MARK: Completion

    /// All chunks here, the manifest known, and this node known to be a target (a parent contacted it, or the
    /// ledger accepted its pull): compile off the hot path.
    mutating func checkComplete(now: Timestamp) -> [Action] {
        guard var d = deployment, d.phase == .receiving, d.chunkKeys != nil, d.have.isComplete, d.mayActivate else {
            return []
        }
        d.stage = .compiling
        deployment = d
        return [.compile(d.version, manifest: d.announcement.manifest)]
    }
}
