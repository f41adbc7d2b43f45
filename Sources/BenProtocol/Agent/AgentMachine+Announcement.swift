public import BenCore

extension AgentMachine {
    enum AnnouncementDecision: Equatable {
        case refuse(AnnouncementRefusal)
        /// The very announcement being worked on.
        case duplicate
        /// The same version and manifest, issued again later (a `--retry`).
        case reannounce
        /// A version this node finished earlier (activated or refused), with no deployment of it in memory (a
        /// restart, or a newer one was abandoned): it answers with the signed answer it made then.
        case answered(SignedAnswer)
        /// A new version to work on.
        case new
    }

    /// How far this node's clock may run ahead of the ledger's before a fresh announcement counts as expired:
    /// one is refused only once `now` is past `expires` plus this. (`expires` is a day after the deadline, so a
    /// node whose clock runs up to about a day ahead still takes a fresh announcement.) docs/formats.md.
    public static let expirySkewTolerance: Duration = .seconds(300)

    /// DESIGN §5 and §9: a node rejects a bad or unknown signature, another fleet, an epoch older than one it
    /// already accepted (fencing), an expired announcement, and a version not newer than the one it runs (or
    /// older than one it already accepted). A version it already answered is not refused: acks are idempotent
    /// (§9), so it is answered again.
    func decide(_ incoming: IncomingAnnouncement, now: Timestamp) -> AnnouncementDecision {
        let a = incoming.announcement
        if case .invalid(let detail) = incoming.signature { return .refuse(.badSignature(detail)) }
        guard a.fleet == fleet else { return .refuse(.otherFleet(a.fleet)) }
        guard a.epoch >= record.highestEpoch else { return .refuse(.staleEpoch(a.epoch, highest: record.highestEpoch)) }
        guard now < a.expires + Self.expirySkewTolerance else { return .refuse(.expired(at: a.expires)) }
        if a.version == record.highestAccepted, let d = deployment, d.version == a.version {
            guard d.announcement.manifest == a.manifest else {
                return .refuse(a.version > activeVersion ? .conflictingManifest : .notNewer(running: activeVersion))
            }
            if a == d.announcement { return .duplicate }
            return a.issuedAt > d.announcement.issuedAt ? .reannounce : .duplicate
        }
        if let answer = record.lastAnswer, answer.version == a.version, answer.manifest == a.manifest {
            return .answered(answer)
        }
        guard a.version > activeVersion else { return .refuse(.notNewer(running: activeVersion)) }
        guard a.version >= record.highestAccepted else { return .refuse(.rollback(highestAccepted: record.highestAccepted)) }
        return .new
    }

    /// An announcement arrived over NATS (live or from JetStream's last message after a restart).
    ///
    /// A valid new one starts a deployment: the acceptance is made durable first (anti-rollback), then the
    /// orphan timer is armed. `local` is what the node already holds of that bundle, so a resumed transfer
    /// asks only for what is missing. A refused one that is news to this node (a version above any it accepted)
    /// is answered with a signed refusal over NATS, once, so the ledger reports the reason rather than silence.
    public mutating func onAnnouncement(_ incoming: IncomingAnnouncement, local: LocalHoldings?, now: Timestamp) -> [Action] {
        switch decide(incoming, now: now) {
        case .refuse(let reason):
            let a = incoming.announcement
            // A trusted ledger's signature for this fleet proves its epoch even on an announcement refused for its
            // version or expiry (a new lease holder re-publishing the version the node runs): keep the epoch.
            var actions = reason.provesEpoch ? adoptEpoch(of: a) : []
            actions.append(.report(.announcementRefused(version: a.version, reason: reason)))
            if reason.isNews, a.version > record.highestAccepted, refusalsSent.insert(a.version).inserted {
                let refusal = signRefusal(of: a, reason: reason, now: now)
                actions.append(.publishAggregate(Aggregate(fleet: a.fleet, version: a.version, relay: node, acks: [refusal], missing: [])))
            }
            return actions
        case .duplicate, .answered:
            // Answered already: the ledger asks again by name (`onAnswerRequested`) or a parent of a retry plan
            // comes; a node reading the same stream again after a restart sends nothing.
            return adoptEpoch(of: incoming.announcement)
        case .reannounce:
            return reannounce(incoming, now: now)
        case .new:
            return start(incoming, local: local, now: now)
        }
    }

    /// Raises the highest accepted epoch to `a`'s and makes it durable, so a ledger that lost its lease is
    /// fenced off even when the new holder only re-signed an announcement this node already had.
    mutating func adoptEpoch(of a: Announcement) -> [Action] {
        guard a.epoch > record.highestEpoch else { return [] }
        record.highestEpoch = a.epoch
        return [.persist(record)]
    }

    /// The ledger asks this node, by name, for its answer to `version` (its ack went missing; `deploy --retry`).
    /// A node that answered it sends the same signed answer again over NATS; one that did not has nothing to say
    /// yet, and its deployment goes on.
    public mutating func onAnswerRequested(_ version: Version, now: Timestamp) -> [Action] {
        if let prepared = preparedAnswer(version) { return prepared }
        guard let answer = record.lastAnswer, answer.version == version else { return [] }
        let aggregate = Aggregate(fleet: fleet, version: version, relay: node, acks: [answer.envelope], missing: [])
        return [
            .publishAggregate(aggregate), .report(.answeredAgain(version, status: answer.status, via: "over NATS, asked by the ledger")),
        ]
    }

    /// Signs "I refused version V because R" for an announcement that will not be acted on, in the terms of the
    /// announcement (its fleet, version and manifest), so the ledger that sent it can record the reason.
    func signRefusal(of a: Announcement, reason: AnnouncementRefusal, now: Timestamp) -> SignedEnvelope {
        signer.sign(
            Ack(fleet: a.fleet, version: a.version, node: node, manifest: a.manifest, status: .refused, reason: reason.ackReason, at: now))
    }

    /// Begins work on a new version, abandoning any older one still in progress.
    mutating func start(_ incoming: IncomingAnnouncement, local: LocalHoldings?, now: Timestamp) -> [Action] {
        let a = incoming.announcement
        var actions: [Action] = []
        if let old = deployment {
            actions += abandon(old, for: a.version)
        }
        record.highestAccepted = a.version
        record.highestEpoch = max(record.highestEpoch, a.epoch)
        actions.append(.persist(record))
        actions.append(.report(.announcementAccepted(a.version)))
        deployment = makeDeployment(incoming, local: local, stage: .receiving)
        actions.append(.armTimer(.orphan(a.version), at: min(now + settings.orphanAfter, a.deadline)))
        actions += armRollingTimers(a, now: now)
        actions += checkComplete(now: now)
        return actions
    }

    /// A parent of a later plan (a retry) reached a node that already answered this version: it takes the link
    /// to serve its part of the plan and send its answer up again, and transfers nothing.
    mutating func startAnswered(_ incoming: IncomingAnnouncement, answer: SignedAnswer, local: LocalHoldings?, now: Timestamp) -> [Action] {
        var actions: [Action] = []
        if let old = deployment { actions += abandon(old, for: answer.version) }
        actions += adoptEpoch(of: incoming.announcement)
        let refused: String? = answer.status == .refused ? answer.envelope.signed["reason"]?.stringValue ?? "" : nil
        deployment = makeDeployment(incoming, local: local, stage: .answered(own: answer.envelope, refused: refused))
        actions.append(.armTimer(.deploymentDeadline(answer.version), at: incoming.announcement.deadline))
        return actions
    }

    func makeDeployment(_ incoming: IncomingAnnouncement, local: LocalHoldings?, stage: Deployment.Stage) -> Deployment {
        let a = incoming.announcement
        let keys = local?.chunkKeys
        let have = local?.have ?? ChunkSet(count: keys?.count ?? 0)
        let relay = RelayCore(
            fleet: a.fleet, version: a.version, me: node, manifestKey: a.manifest, stripeCount: 1, chunkKeys: keys, have: have,
            settings: .init(sendWindow: settings.sendWindow, linkAttempts: settings.linkAttempts, linkRetryDelay: settings.linkRetryDelay),
            firstLink: deployment?.relay.nextLink ?? 1)
        return Deployment(
            announcement: a, envelope: incoming.envelope, stage: stage, chunkKeys: keys, have: have, relay: relay,
            serving: PullServer(window: settings.sendWindow))
    }

    /// The timers every attempt at a version runs: the progress and relay checks, and the deadline that closes
    /// links kept open only for late acks.
    func armRollingTimers(_ a: Announcement, now: Timestamp) -> [Action] {
        [
            .armTimer(.progressCheck(a.version), at: now + settings.progressCheckEvery),
            .armTimer(.relayCheck(a.version), at: now + settings.relayCheckEvery),
            .armTimer(.deploymentDeadline(a.version), at: a.deadline),
        ]
    }

    /// The same version announced again with a later deadline (a retry for the nodes that were missing):
    /// keep the chunks, forget the old tree, and wait for the new plan's parents.
    mutating func reannounce(_ incoming: IncomingAnnouncement, now: Timestamp) -> [Action] {
        guard var d = deployment else { return [] }
        var actions: [Action] = adoptEpoch(of: incoming.announcement)
        for link in d.parents.keys.sorted() { actions.append(.close(link, .superseded, reason: "re-announced")) }
        for link in d.relay.openLinks { actions.append(.close(link, .superseded, reason: "re-announced")) }
        for link in d.pulls.keys.sorted() { actions.append(.close(link, .done, reason: "re-announced")) }
        let fresh = RelayCore(
            fleet: d.announcement.fleet, version: d.version, me: node, manifestKey: d.announcement.manifest, stripeCount: 1,
            chunkKeys: d.chunkKeys, have: d.have, settings: d.relay.settings, firstLink: d.relay.nextLink)
        d.announcement = incoming.announcement
        d.envelope = incoming.envelope
        d.relay = fresh
        d.subtrees = [:]
        d.parents = [:]
        d.ackRoute = .none
        d.contact = .waiting
        d.pulls = [:]
        d.exhaustedSources = []
        d.lastHeard = [:]
        d.acks = AckBook()
        // A node a wave before was told it is not a target: this wave may take it.
        if case .notTargeted = d.stage { d.stage = .receiving }
        deployment = d
        // A node that already answered waits for a parent of the retry plan (it is a target only if it was
        // missing); the ledger also asks missing nodes by name, so it does not need the orphan path.
        if d.own == nil {
            actions.append(.armTimer(.orphan(d.version), at: min(now + settings.orphanAfter, d.announcement.deadline)))
        }
        actions += armRollingTimers(d.announcement, now: now)
        actions += checkComplete(now: now)
        return actions
    }

    /// Drops an older deployment for a newer version: links are closed with `superseded`, a compiled but
    /// unswapped version is discarded, its timers are cancelled.
    func abandon(_ old: Deployment, for new: Version) -> [Action] {
        var actions: [Action] = []
        let v = old.version
        for link in old.parents.keys.sorted() { actions.append(.close(link, .superseded, reason: "superseded by \(new)")) }
        for link in old.relay.openLinks { actions.append(.close(link, .superseded, reason: "superseded by \(new)")) }
        for link in old.pulls.keys.sorted() { actions.append(.close(link, .superseded, reason: "superseded by \(new)")) }
        for link in old.serving.openLinks { actions.append(.close(link, .superseded, reason: "superseded by \(new)")) }
        if old.phase == .compiling || old.phase == .prepared { actions.append(.discardCompiled(v)) }
        actions += [
            Action.cancelTimer(.orphan(v)), .cancelTimer(.ackDeadline(v)), .cancelTimer(.progressCheck(v)), .cancelTimer(.relayCheck(v)),
            .cancelTimer(.deploymentDeadline(v)),
        ]
        if old.phase == .prepared { actions.append(.cancelTimer(.barrier(v))) }
        for child in old.relay.children.keys.sorted() { actions.append(.cancelTimer(.linkRetry(v, child))) }
        if old.phase == .receiving || old.phase == .compiling || old.phase == .prepared {
            actions.append(.report(.superseded(old: v, new: new)))
        }
        return actions
    }
}

extension AnnouncementRefusal {
    /// Whether a refusal tells the ledger something it may not know (a node that cannot accept what it sends),
    /// rather than a stale or replayed announcement the node has moved past.
    var isNews: Bool {
        switch self {
        case .badSignature, .otherFleet, .expired, .malformed: true
        case .notNewer, .rollback, .conflictingManifest, .staleEpoch: false
        }
    }

    /// Whether the announcement, though refused, was signed by a trusted ledger for this fleet: its epoch stands.
    var provesEpoch: Bool {
        switch self {
        case .badSignature, .otherFleet, .staleEpoch, .malformed: false
        case .notNewer, .rollback, .conflictingManifest, .expired: true
        }
    }

    /// The reason a signed refusal of the announcement carries.
    var ackReason: String { "announcement refused: \(description)" }
}
