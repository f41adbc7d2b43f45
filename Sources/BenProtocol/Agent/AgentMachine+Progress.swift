public import BenCore

/// Stalls are judged by what arrives on the links, against the plan (issue 12): a slow but moving stream is not
/// stalled, a parent waiting on its own parent says so with keepalives, and only a silent link sends a node
/// elsewhere.
extension AgentMachine {
    /// The shell's count of bytes received so far on each link (cumulative), read at each progress check: bytes
    /// of a chunk still arriving show a slow link is moving.
    public mutating func onLinkBytes(_ received: [LinkID: Int64], now: Timestamp) -> [Action] {
        guard var d = deployment else { return [] }
        for (link, bytes) in received where bytes > (d.linkBytes[link] ?? 0) {
            d.linkBytes[link] = bytes
            if d.parents[link] != nil || d.pulls[link] != nil { d.lastHeard[link] = now }
        }
        deployment = d
        return []
    }

    /// How long a stripe may go without a word from any link feeding it before it counts as stalled: four chunk
    /// times at the plan's rate, at least `stallFloor`, and twice this node's recent starvation more (a machine
    /// too busy to run this node's timers on time is too busy to run its parents' sends on time).
    func stallAfter(_ d: Deployment, stripe s: Int) -> Duration {
        guard let rate = d.subtrees[s]?.stripeRate ?? d.subtrees.values.first?.stripeRate, rate > 0, d.chunkBytes > 0 else {
            return settings.stallFloor + d.starvation * 2
        }
        let chunkTime = Duration.milliseconds(d.chunkBytes * 1000 / rate)
        return max(settings.stallFloor, chunkTime * settings.stallChunkTimes) + d.starvation * 2
    }

    /// Finds stripes that stopped: chunks missing and nothing heard from any link feeding them for longer than
    /// `stallAfter`. Their chunks are fetched elsewhere (backups first, then the ledger's store), a parent link
    /// that went silent is closed, and a pull that went silent is dropped for the next holder.
    mutating func checkProgress(now: Timestamp) -> [Action] {
        guard var d = deployment, d.isContacted || d.isOrphaned else { return [] }
        let since = d.contactedAt ?? now
        func silent(_ link: LinkID, _ limit: Duration) -> Bool { now - (d.lastHeard[link] ?? since) >= limit }
        var actions: [Action] = []
        guard d.chunkKeys != nil else {
            let links = d.parents.keys.sorted() + d.pulls.keys.sorted()
            if links.allSatisfy({ silent($0, settings.stallFloor) }) && now - since >= settings.stallFloor {
                deployment = d
                return fetch([NackEntry.manifestIndex], now: now)
            }
            return []
        }
        var stalled = Set<UInt32>()
        var silentLinks = Set<LinkID>()
        for s in 0..<d.stripeCount {
            let missing = d.missing(inStripe: s)
            guard !missing.isEmpty else { continue }
            let limit = stallAfter(d, stripe: s)
            let feeders = d.feeders(ofStripe: s)
            let quiet = feeders.filter { silent($0, limit) }
            guard quiet.count == feeders.count, now - since >= limit else { continue }
            silentLinks.formUnion(quiet)
            stalled.formUnion(missing.map(UInt32.init))
            actions.append(.report(.stripeStalled(stripe: s, missing: missing.count)))
        }
        // A silent pull is dropped, so its chunks are asked of the next holder; a silent parent is closed: it is
        // gone or wedged, and its stripes now come from elsewhere.
        for link in silentLinks.sorted() {
            if let pull = d.pulls.removeValue(forKey: link) {
                if pull.source.id != Self.ledgerID { d.exhaustedSources.insert(pull.source.id) }
                actions.append(.close(link, .done, reason: "nothing arrived for \(settings.stallFloor)"))
            } else if d.parents.removeValue(forKey: link) != nil {
                d.loseAckParent(link)
                actions.append(.close(link, .done, reason: "nothing arrived on the link; fetching its stripes elsewhere"))
            }
        }
        deployment = d
        return actions + fetch(stalled, now: now)
    }

    /// Something arrived on `link` (a frame, or bytes of one): it is alive.
    mutating func heard(_ link: LinkID, now: Timestamp) {
        guard deployment != nil else { return }
        deployment!.lastHeard[link] = now
    }
}
