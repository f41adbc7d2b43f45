import BenCore

/// Everything an agent knows about the one version it is working on (or finished last).
struct Deployment: Sendable {
    struct ParentLink: Sendable, Hashable {
        var node: NodeID
        var stripes: Set<Int> = []
    }

    /// A link this node opened to fetch chunks from a holder (a backup, or the ledger's store).
    struct Pull: Sendable, Hashable {
        enum Phase: Sendable, Hashable {
            case connecting
            case awaitingAccept
            case requested
        }

        var source: PlanNode
        var phase: Phase
        /// Chunk indexes still wanted from this source; `NackEntry.manifestIndex` for the manifest.
        var wanted: Set<UInt32>
    }

    /// Where the work on this version stands. What a stage needs lives in it: a signed answer exists only once
    /// the version is answered.
    enum Stage: Sendable {
        /// Waiting for the manifest and chunks.
        case receiving
        /// Holding everything; compiling off the hot path.
        case compiling
        /// Two-phase: compiled and held, not swapped in; `own` is the signed `prepared` ack. It swaps when the
        /// ledger's signed activation says (`AgentMachine+TwoPhase.swift`).
        case prepared(own: SignedEnvelope)
        /// Swapped in, or refused; `own` is this node's signed answer, sent up (again) whenever asked.
        case answered(own: SignedEnvelope, refused: String?)
        /// The ledger said this node is not a target; nothing to do.
        case notTargeted
        /// The ledger's alarm stopped this version before it was swapped in (`AgentMachine+Alarm.swift`); `own` is
        /// the `prepared` ack it had sent, if any. The old version keeps serving.
        case stopped(own: SignedEnvelope?, reason: String)
    }

    /// How this node was reached for this version.
    enum Contact: Sendable, Equatable {
        /// No parent yet, and the orphan deadline has not passed.
        case waiting
        /// A parent reached this node at `since`, after the orphan deadline if `wasOrphan`.
        case contacted(since: Timestamp, wasOrphan: Bool)
        /// No parent came by the orphan deadline (at `since`): it pulls and acks straight to the ledger.
        /// `confirmed`: the ledger accepted its pull, so it is a target of the version and may swap it in.
        case orphan(since: Timestamp, confirmed: Bool)
    }

    /// Where this node's aggregate goes.
    enum AckRoute: Sendable, Equatable {
        /// No parent in stripe tree 0 yet.
        case none
        /// Up the link to the parent in stripe tree 0.
        case parent(LinkID)
        /// It had an ack parent and lost it (the link went, or the parent served tampered bytes): over NATS.
        case lost
    }

    var announcement: Announcement
    var envelope: [UInt8]
    var stage: Stage
    var chunkKeys: [Key]?
    var have: ChunkSet
    var relay: RelayCore
    /// This node's subtree in each stripe tree, as its parent in that tree sent it.
    var subtrees: [Int: Subtree] = [:]
    var parents: [LinkID: ParentLink] = [:]
    var ackRoute: AckRoute = .none
    /// Ack parents an adopter replaced while their links stayed open. Each still counts this node among its ack
    /// children (a parent wrongly declared dead is alive and waits), so each gets a copy of every aggregate: without
    /// it, such a parent holds its own ack until its ack deadline.
    var formerAckParents: [LinkID] = []
    /// When a chunk written to each child last left (`chunkSent`), for judging gossip's word that it is dead.
    var lastSentTo: [NodeID: Timestamp] = [:]
    /// Children gossip declared dead while chunks to them were still leaving, with the reason: each relay check
    /// gives up on one once nothing has left for it for `childMovingGrace`.
    var deadButMoving: [NodeID: String] = [:]
    var contact: Contact = .waiting
    /// How many edges lie below this node in the ack tree (from its stripe-0 subtree), for its ack deadline.
    var ackHeight = 0
    var pulls: [LinkID: Pull] = [:]

    /// The links chunks of stripe `s` come on: the parent in that stripe tree, and pulls for its chunks.
    func feeders(ofStripe s: Int) -> [LinkID] {
        var links = parents.filter { $0.value.stripes.contains(s) }.map(\.key)
        for (link, pull) in pulls where pull.wanted.contains(where: { $0 != NackEntry.manifestIndex && Int($0) % stripeCount == s }) {
            links.append(link)
        }
        return links.sorted()
    }
    var serving: PullServer
    /// Relays and holders that served bytes that did not match their keys.
    var untrusted: Set<NodeID> = []
    /// Pull sources that failed or lacked what was wanted, this deployment.
    var exhaustedSources: Set<NodeID> = []
    /// When something last arrived on each parent and pull link (a frame, or bytes of one): the progress check
    /// judges links by it.
    var lastHeard: [LinkID: Timestamp] = [:]
    /// Bytes received on each link, as the shell last reported them.
    var linkBytes: [LinkID: Int64] = [:]
    /// When the progress check last ran, and whether it let the one before it go unjudged (it ran late).
    var lastProgressCheck: Timestamp?
    var skippedLateCheck = false
    /// How late this node's progress checks have lately run (the largest recent lateness, less one interval per
    /// check since): how starved this node, and on a shared machine its peers, are. Stalls wait twice that longer.
    var starvation: Duration = .zero
    /// The largest chunk of the bundle, from the manifest (for the stripe rate's chunk time).
    var chunkBytes: Int64 = 0
    var acks = AckBook()
    /// This node's signed tamper reports (a feeder that served it bytes that did not match their key).
    var reports: [SignedEnvelope] = []
    /// Two-phase: the activation accepted for this prepared version, waiting for its barrier.
    var activation: Activation?

    var version: Version { announcement.version }

    /// The stage, as the machine reports it.
    var phase: AgentMachine.Phase {
        switch stage {
        case .receiving: .receiving
        case .compiling: .compiling
        case .prepared: .prepared
        case .answered(_, let refused): refused.map { .refused($0) } ?? .activated
        case .notTargeted: .notTargeted
        case .stopped(_, let reason): .stopped(reason)
        }
    }

    /// This node's signed answer once it has one (in a two-phase rollout, its `prepared` ack until it swaps).
    var own: SignedEnvelope? {
        switch stage {
        case .answered(let own, _), .prepared(let own): own
        case .stopped(let own, _): own
        default: nil
        }
    }

    var isContacted: Bool {
        if case .contacted = contact { true } else { false }
    }

    /// Whether the orphan deadline passed with no parent (it stays so if a parent comes later).
    var isOrphaned: Bool {
        switch contact {
        case .waiting: false
        case .contacted(_, let wasOrphan): wasOrphan
        case .orphan: true
        }
    }

    /// A node only compiles and swaps a version it was contacted for or confirmed as a target of, so an
    /// announcement alone (a node outside the selector that happens to hold the bundle) never activates anything.
    var mayActivate: Bool {
        switch contact {
        case .waiting: false
        case .contacted: true
        case .orphan(_, let confirmed): confirmed
        }
    }

    /// When this node was contacted, or became an orphan: links not yet heard from count from here.
    var contactedAt: Timestamp? {
        switch contact {
        case .waiting: nil
        case .contacted(let since, _), .orphan(let since, _): since
        }
    }

    var ackParent: LinkID? {
        if case .parent(let link) = ackRoute { link } else { nil }
    }

    /// The link to `link` is gone or distrusted: if it was the ack parent, acks go over NATS from now on.
    mutating func loseAckParent(_ link: LinkID) {
        if ackParent == link { ackRoute = .lost }
        formerAckParents.removeAll { $0 == link }
    }

    /// A parent's PLAN of stripe tree 0 arrived on `link`: it becomes the ack parent, and an ack parent it replaces
    /// (an adopter took over from a parent still connected) keeps getting copies.
    mutating func takeAckParent(_ link: LinkID) {
        if let old = ackParent, old != link, parents[old] != nil, !formerAckParents.contains(old) { formerAckParents.append(old) }
        formerAckParents.removeAll { $0 == link }
        ackRoute = .parent(link)
    }
    var header: FrameHeader { FrameHeader(fleet: announcement.fleet, version: announcement.version) }
    var stripeCount: Int { relay.stripeCount }
    var ledgerNode: PlanNode { PlanNode(id: AgentMachine.ledgerID, address: HostPort(announcement.ledger)!) }

    /// Depth in the ack tree (stripe 0); 1 until the plan says otherwise.
    var ackDepth: Int { subtrees[0]?.depth ?? 1 }

    /// Missing chunk indexes of one stripe.
    func missing(inStripe s: Int) -> [Int] {
        guard let keys = chunkKeys else { return [] }
        return (0..<keys.count).filter { $0 % stripeCount == s && !have.contains($0) }
    }

    /// Whether chunk `index` is about to arrive here, so a puller asking for it is kept waiting rather than sent on:
    /// this node still receives, and its stripe's newest chunk here is at most `within` of that stripe's chunks
    /// before it. A node far behind in that stripe (below the same slow relay as the puller, say) answers `lacking`
    /// at once.
    func expectsSoon(_ index: Int, within: Int) -> Bool {
        guard phase == .receiving, let keys = chunkKeys, index >= 0, index < keys.count else { return false }
        var newest = index % stripeCount - stripeCount
        var i = index % stripeCount
        while i < keys.count {
            if have.contains(i) { newest = i }
            i += stripeCount
        }
        return index <= newest + within * stripeCount
    }

    /// Indexes still wanted from some pull link.
    var requested: Set<UInt32> { pulls.values.reduce(into: Set<UInt32>()) { $0.formUnion($1.wanted) } }

    /// Where a chunk can be fetched when the tree fails: this node's backups, then the ledger's store.
    func pullCandidates() -> [PlanNode] {
        var seen = Set<NodeID>()
        var out: [PlanNode] = []
        for stripe in subtrees.keys.sorted() {
            for backup in subtrees[stripe]!.backups[0] where !untrusted.contains(backup.id) && !exhaustedSources.contains(backup.id) {
                if seen.insert(backup.id).inserted { out.append(backup) }
            }
        }
        out.append(ledgerNode)
        return out
    }
}

/// The acks this node has gathered for the ack tree, and what it has already sent up.
struct AckBook: Sendable {
    /// Whether anything went up yet, and whether this node's own answer was in it (a new ack parent gets
    /// everything again).
    enum Uplink: Sendable, Equatable {
        case gathering
        case sent(ownIncluded: Bool)
    }

    /// Acks received from each ack child's aggregates, by the node each ack is from.
    var received: [NodeID: SignedEnvelope] = [:]
    /// What ack children reported as missing below them, by reporting child.
    var missingFromChildren: [NodeID: [Aggregate.Missing]] = [:]
    /// Ack children that have sent at least one aggregate.
    var reported: Set<NodeID> = []
    var uplink: Uplink = .gathering
    /// Nodes whose acks have gone up already.
    var sentAcks: Set<NodeID> = []

    var hasSentUp: Bool { uplink != .gathering }
    var ownSent: Bool { uplink == .sent(ownIncluded: true) }
    /// Signed tamper reports from ack children's aggregates, passed up unchanged.
    var childReports: [SignedEnvelope] = []
    /// Tamper reports already sent up.
    var sentReports: Set<SignedEnvelope> = []
}
