public import BenCore

extension AgentMachine {
    enum AnnouncementDecision: Equatable {
        case refuse(AnnouncementRefusal)
        /// The very announcement being worked on.
        case duplicate
        /// The same version and manifest, issued again later (a `--retry`).
        case reannounce
        /// A new version to work on.
        case new
    }

    /// How far this node's clock may run ahead of the ledger's before a fresh announcement counts as expired:
    /// one is refused only once `now` is past `expires` plus this. (`expires` is a day after the deadline, so a
    /// node whose clock runs up to about a day ahead still takes a fresh announcement.) docs/formats.md.
    public static let expirySkewTolerance: Duration = .seconds(300)

    /// DESIGN §5 and §9: a node rejects a bad or unknown signature, another fleet, an epoch older than one it
    /// already accepted (fencing), an expired announcement, and a version not newer than the one it runs (or
    /// older than one it already accepted).
    func decide(_ incoming: IncomingAnnouncement, now: Timestamp) -> AnnouncementDecision {
        let a = incoming.announcement
        if case .invalid(let detail) = incoming.signature { return .refuse(.badSignature(detail)) }
        guard a.fleet == fleet else { return .refuse(.otherFleet(a.fleet)) }
        guard a.epoch >= record.highestEpoch else { return .refuse(.staleEpoch(a.epoch, highest: record.highestEpoch)) }
        guard now < a.expires + Self.expirySkewTolerance else { return .refuse(.expired(at: a.expires)) }
        guard a.version > activeVersion else { return .refuse(.notNewer(running: activeVersion)) }
        guard a.version >= record.highestAccepted else { return .refuse(.rollback(highestAccepted: record.highestAccepted)) }
        if a.version == record.highestAccepted, let d = deployment, d.version == a.version {
            guard d.announcement.manifest == a.manifest else { return .refuse(.conflictingManifest) }
            if a == d.announcement { return .duplicate }
            return a.issuedAt > d.announcement.issuedAt ? .reannounce : .duplicate
        }
        return .new
    }

    /// An announcement arrived over NATS (live or from JetStream's last message after a restart).
    ///
    /// A valid new one starts a deployment: the acceptance is made durable first (anti-rollback), then the
    /// orphan timer is armed. `local` is what the node already holds of that bundle, so a resumed transfer
    /// asks only for what is missing.
    public mutating func onAnnouncement(_ incoming: IncomingAnnouncement, local: LocalHoldings?, now: Timestamp) -> [PeerAction] {
        switch decide(incoming, now: now) {
        case .refuse(let reason):
            // A trusted ledger's signature for this fleet proves its epoch even on an announcement refused for its
            // version or expiry (a new lease holder re-publishing the version the node runs): keep the epoch.
            let proves: Bool
            switch reason {
            case .badSignature, .otherFleet, .staleEpoch, .malformed: proves = false
            case .notNewer, .rollback, .conflictingManifest, .expired: proves = true
            }
            return (proves ? adoptEpoch(of: incoming.announcement) : [])
                + [.report(.announcementRefused(version: incoming.announcement.version, reason: reason))]
        case .duplicate:
            return adoptEpoch(of: incoming.announcement)
        case .reannounce:
            return reannounce(incoming, now: now)
        case .new:
            return start(incoming, local: local, now: now)
        }
    }

    /// Raises the highest accepted epoch to `a`'s and makes it durable, so a ledger that lost its lease is
    /// fenced off even when the new holder only re-signed an announcement this node already had.
    mutating func adoptEpoch(of a: Announcement) -> [PeerAction] {
        guard a.epoch > record.highestEpoch else { return [] }
        record.highestEpoch = a.epoch
        return [.persist(record)]
    }

    /// Begins work on a new version, abandoning any older one still in progress.
    mutating func start(_ incoming: IncomingAnnouncement, local: LocalHoldings?, now: Timestamp) -> [PeerAction] {
        let a = incoming.announcement
        var actions: [PeerAction] = []
        if let old = deployment {
            actions += abandon(old, for: a.version)
        }
        record.highestAccepted = a.version
        record.highestEpoch = max(record.highestEpoch, a.epoch)
        actions.append(.persist(record))
        actions.append(.report(.announcementAccepted(a.version)))
        let keys = local?.chunkKeys
        let have = local?.have ?? ChunkSet(count: keys?.count ?? 0)
        let relay = RelayCore(
            fleet: a.fleet, version: a.version, me: node, manifestKey: a.manifest, stripeCount: 1, chunkKeys: keys, have: have,
            settings: .init(sendWindow: settings.sendWindow, linkAttempts: settings.linkAttempts, linkRetryDelay: settings.linkRetryDelay))
        deployment = Deployment(
            announcement: a, envelope: incoming.envelope, phase: .receiving, chunkKeys: keys, have: have, relay: relay,
            serving: PullServer(window: settings.sendWindow))
        actions.append(.armTimer(.orphan(a.version), at: min(now + settings.orphanAfter, a.deadline)))
        actions.append(.armTimer(.progressCheck(a.version), at: now + settings.progressCheckEvery))
        actions.append(.armTimer(.relayCheck(a.version), at: now + settings.relayCheckEvery))
        actions += checkComplete(now: now)
        return actions
    }

    /// The same version announced again with a later deadline (a retry for the nodes that were missing):
    /// keep the chunks, forget the old tree, and wait for the new plan's parents.
    mutating func reannounce(_ incoming: IncomingAnnouncement, now: Timestamp) -> [PeerAction] {
        guard var d = deployment else { return [] }
        var actions: [PeerAction] = adoptEpoch(of: incoming.announcement)
        for link in d.parents.keys.sorted() { actions.append(.close(link, .superseded, reason: "re-announced")) }
        for link in d.relay.openLinks { actions.append(.close(link, .superseded, reason: "re-announced")) }
        for link in d.pulls.keys.sorted() { actions.append(.close(link, .done, reason: "re-announced")) }
        let fresh = RelayCore(
            fleet: d.announcement.fleet, version: d.version, me: node, manifestKey: d.announcement.manifest, stripeCount: 1,
            chunkKeys: d.chunkKeys, have: d.have, settings: d.relay.settings)
        d.announcement = incoming.announcement
        d.envelope = incoming.envelope
        d.relay = fresh
        d.subtrees = [:]
        d.parents = [:]
        d.ackParent = nil
        d.ackParentLost = false
        d.contacted = false
        d.orphaned = false
        d.pulls = [:]
        d.exhaustedSources = []
        d.progressMarks = [:]
        let own = d.acks.own
        d.acks = AckBook()
        d.acks.own = own
        if case .refused = d.phase, own == nil { d.phase = .receiving }
        deployment = d
        actions.append(.armTimer(.orphan(d.version), at: min(now + settings.orphanAfter, d.announcement.deadline)))
        actions.append(.armTimer(.progressCheck(d.version), at: now + settings.progressCheckEvery))
        actions.append(.armTimer(.relayCheck(d.version), at: now + settings.relayCheckEvery))
        actions += checkComplete(now: now)
        // An ack already made for this version goes up again through whoever reaches this node now.
        return actions
    }

    /// Drops an older deployment for a newer version: links are closed with `superseded`, a compiled but
    /// unswapped version is discarded, its timers are cancelled.
    func abandon(_ old: Deployment, for new: Version) -> [PeerAction] {
        var actions: [PeerAction] = []
        let v = old.version
        for link in old.parents.keys.sorted() { actions.append(.close(link, .superseded, reason: "superseded by \(new)")) }
        for link in old.relay.openLinks { actions.append(.close(link, .superseded, reason: "superseded by \(new)")) }
        for link in old.pulls.keys.sorted() { actions.append(.close(link, .superseded, reason: "superseded by \(new)")) }
        for link in old.serving.openLinks { actions.append(.close(link, .superseded, reason: "superseded by \(new)")) }
        if old.phase == .compiling { actions.append(.discardCompiled(v)) }
        actions += [PeerAction.cancelTimer(.orphan(v)), .cancelTimer(.ackDeadline(v)), .cancelTimer(.progressCheck(v)), .cancelTimer(.relayCheck(v))]
        for child in old.relay.children.keys.sorted() { actions.append(.cancelTimer(.linkRetry(v, child))) }
        if old.phase == .receiving || old.phase == .compiling {
            actions.append(.report(.superseded(old: v, new: new)))
        }
        return actions
    }
}
