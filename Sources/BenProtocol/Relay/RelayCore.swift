import BenCore
import NIOCore

/// The part of a peer that pushes chunks down its stripe trees: the ledger at the root of every tree, and every
/// agent that relays. One value per deployment.
///
/// It owns the child links: connecting (parents connect to children), sending each child its subtrees, the
/// manifest and then the chunks of its stripes as they arrive here (cut-through), each child paced by its own
/// send window so a slow child never stalls its siblings, and only chunk *numbers* queued so memory stays
/// bounded (the shell reads each chunk from disk when it sends it). A child that cannot be reached after a few
/// tries is reported, and its children are adopted from the subtree this relay holds.
struct RelayCore: Sendable, Hashable {
    struct Settings: Sendable, Hashable {
        var sendWindow: Int
        var linkAttempts: Int
        var linkRetryDelay: Duration
    }

    enum ChildPhase: Sendable, Hashable {
        case connecting(attempt: Int)
        /// HELLO sent; waiting for the child's accept (and what it already has).
        case awaitingAccept(attempt: Int)
        case streaming
        case waitingRetry(attempt: Int)
        /// Gave up; its children were adopted.
        case unreachable(reason: String)
        /// The child refused the announcement (its reason); nothing more is sent.
        case refused(reason: String)
        /// Everything sent and, where it is an ack child, every ack of its subtree received (or the deployment's
        /// deadline passed). The link is closing: whatever the child wrote before it saw the BYE is still read.
        case finished
    }

    struct Child: Sendable, Hashable {
        var node: PlanNode
        /// The child's subtree in each stripe tree where this relay is its parent.
        var subtrees: [Int: Subtree]
        var link: LinkID?
        var phase: ChildPhase
        var has: ChunkSet
        var hasManifest = false
        var queue = CircularBuffer<Int32>()
        var queued: ChunkSet
        var inFlight = 0
        /// The child's aggregate came up (stripe tree 0 children only).
        var reported = false
        /// Nodes of the child's ack subtree whose acks came up through it; the link stays open until all have,
        /// so a late ack travels the tree instead of being written to a closed link.
        var acked: Set<NodeID> = []
        /// Chunks this relay has written to the child's link (counted for the byte accounting in reports).
        var sentChunks = 0
        /// Chunks queued for the child, and chunks sent to it, at the last relay check (see `handOffBacklogs`).
        var lastBacklog = 0
        var sentAtLastCheck = 0
    }

    let fleet: FleetName
    let version: Version
    let me: NodeID
    let settings: Settings
    /// Number of stripe trees (chunk i travels in stripe i mod stripeCount).
    private(set) var stripeCount: Int
    /// Keys of the bundle's chunks, once the manifest is known here.
    private(set) var chunkKeys: [Key]?
    private(set) var manifestKey: Key
    /// What this relay holds (the ledger holds everything from the start).
    private(set) var have: ChunkSet
    /// The children, by node (the hand-off in RelayCore+HandOff.swift updates their queues).
    var children: [NodeID: Child] = [:]
    private var childByLink: [LinkID: NodeID] = [:]
    /// Link numbers continue across deployments (see `init`), so a link of an older deployment that is still
    /// closing never shares its id with a new one.
    private(set) var nextLink: UInt64

    init(
        fleet: FleetName, version: Version, me: NodeID, manifestKey: Key, stripeCount: Int, chunkKeys: [Key]?, have: ChunkSet?,
        settings: Settings, firstLink: UInt64 = 1
    ) {
        self.nextLink = firstLink
        self.fleet = fleet
        self.version = version
        self.me = me
        self.manifestKey = manifestKey
        self.stripeCount = stripeCount
        self.chunkKeys = chunkKeys
        self.have = have ?? ChunkSet(count: chunkKeys?.count ?? 0)
        self.settings = settings
    }

    var header: FrameHeader { FrameHeader(fleet: fleet, version: version) }

    func stripe(of chunk: Int) -> Int { chunk % stripeCount }

    func child(on link: LinkID) -> NodeID? { childByLink[link] }

    mutating func allocateLink() -> LinkID {
        defer { nextLink += 1 }
        return LinkID(outbound: nextLink)
    }

    // MARK: Building the child set

    /// Takes on `subtree.root` as a child in `subtree.stripe`, connecting if it is new.
    mutating func addChild(_ subtree: Subtree) -> [RelayAction] {
        let node = subtree.root
        if var existing = children[node.id] {
            let isNewStripe = existing.subtrees[subtree.stripe] == nil
            existing.subtrees[subtree.stripe] = subtree
            children[node.id] = existing
            guard isNewStripe, existing.phase == .streaming, let link = existing.link else { return [] }
            // Already talking to this child: send the new stripe's plan and its chunks.
            var actions: [RelayAction] = [.send(link, .plan(subtree))]
            enqueueAll(for: node.id)
            actions += pump(node.id)
            return actions
        }
        var child = Child(
            node: node, subtrees: [subtree.stripe: subtree], link: nil, phase: .connecting(attempt: 1),
            has: ChunkSet(count: chunkKeys?.count ?? 0), queued: ChunkSet(count: chunkKeys?.count ?? 0))
        let link = allocateLink()
        child.link = link
        children[node.id] = child
        childByLink[link] = node.id
        return [.connect(link, peer: node, purpose: .push)]
    }

    /// The manifest became known here (agents learn it from a parent; the ledger knows it from the start).
    mutating func manifestKnown(_ keys: [Key]) -> [RelayAction] {
        guard chunkKeys == nil else { return [] }
        chunkKeys = keys
        if have.count != keys.count { have = ChunkSet(count: keys.count) }
        var actions: [RelayAction] = []
        for id in children.keys.sorted() {
            guard var child = children[id] else { continue }
            if child.has.count != keys.count { child.has = ChunkSet(count: keys.count) }
            child.queued = ChunkSet(count: keys.count)
            children[id] = child
            if child.phase == .streaming, let link = child.link, !child.hasManifest {
                actions.append(.send(link, .manifest(manifestKey)))
                children[id]!.hasManifest = true
            }
            enqueueAll(for: id)
            actions += pump(id)
        }
        return actions
    }

    // MARK: Link events

    /// The TCP connection to a child is up: introduce ourselves with the signed announcement.
    mutating func onConnected(_ link: LinkID, announcement: [UInt8]) -> [RelayAction] {
        guard let id = childByLink[link], var child = children[id], case .connecting(let attempt) = child.phase else { return [] }
        child.phase = .awaitingAccept(attempt: attempt)
        children[id] = child
        return [.send(link, .hello(Hello(header: header, purpose: .push, node: me, announcement: announcement)))]
    }

    /// The child accepted and said what it holds: send its plans, the manifest if it lacks it, then chunks.
    mutating func onAccepted(_ link: LinkID, hello: Hello) -> [RelayAction] {
        guard let id = childByLink[link], var child = children[id], case .awaitingAccept = child.phase else { return [] }
        child.phase = .streaming
        // Keep what the child holds even if this relay has no manifest yet; `manifestKnown` checks the count. A
        // child that lacks the manifest says it holds nothing with an empty set: size that to the manifest here.
        if let keys = chunkKeys, hello.have.count != keys.count {
            child.has = ChunkSet(count: keys.count)
        } else {
            child.has = hello.have
        }
        child.hasManifest = hello.hasManifest
        children[id] = child
        var actions: [RelayAction] = child.subtrees.keys.sorted().map { .send(link, .plan(child.subtrees[$0]!)) }
        if chunkKeys != nil && !child.hasManifest {
            actions.append(.send(link, .manifest(manifestKey)))
            children[id]!.hasManifest = true
        }
        enqueueAll(for: id)
        actions += pump(id)
        return actions
    }

    /// A chunk became available here (received and stored, or already held): queue it to every child whose
    /// stripes carry it.
    mutating func onChunkAvailable(_ index: Int) -> [RelayAction] {
        guard chunkKeys != nil else { return [] }
        have.insert(index)
        let s = stripe(of: index)
        var actions: [RelayAction] = []
        // Largest subtree first: the child with the most nodes below it gets each chunk first (the planner's and
        // cost model's forwarding order), so the deepest paths start earliest.
        let order = children.keys.sorted { a, b in
            let sa = children[a]?.subtrees[s]?.nodes.count ?? 0
            let sb = children[b]?.subtrees[s]?.nodes.count ?? 0
            return sa != sb ? sa > sb : a < b
        }
        for id in order {
            guard let child = children[id], child.subtrees[s] != nil, !child.has.contains(index), !child.queued.contains(index) else {
                continue
            }
            children[id]!.queue.append(Int32(index))
            children[id]!.queued.insert(index)
            if child.phase == .streaming { actions += pump(id) }
        }
        return actions
    }

    /// A chunk frame left for the child: open the window for the next one.
    mutating func onSent(_ link: LinkID, index: Int) -> [RelayAction] {
        guard let id = childByLink[link], var child = children[id] else { return [] }
        child.inFlight = max(0, child.inFlight - 1)
        if index >= 0 && index < child.has.count { child.has.insert(index) }
        child.sentChunks += 1
        children[id] = child
        let actions = pump(id)
        return actions + closeIfDone(id)
    }

    /// The child says it lacks or refuses chunks it was sent: queue them again.
    mutating func onChildNack(_ link: LinkID, entries: [NackEntry]) -> [RelayAction] {
        guard let id = childByLink[link], children[id] != nil, let keys = chunkKeys else { return [] }
        var actions: [RelayAction] = []
        for entry in entries where entry.index == NackEntry.manifestIndex {
            children[id]!.hasManifest = true
            actions.append(.send(link, .manifest(manifestKey)))
        }
        for entry in entries where Int(entry.index) < keys.count && entry.code != .lacking {
            let i = Int(entry.index)
            children[id]!.has.remove(i)
            if have.contains(i) && !children[id]!.queued.contains(i) {
                children[id]!.queue.append(Int32(i))
                children[id]!.queued.insert(i)
            }
        }
        return actions + pump(id)
    }

    /// The child closed the link refusing the announcement.
    mutating func onRefused(_ link: LinkID, reason: String) -> NodeID? {
        guard let id = childByLink.removeValue(forKey: link), children[id]?.link == link else { return nil }
        children[id]?.phase = .refused(reason: reason)
        children[id]?.link = nil
        return id
    }

    /// The child's aggregate arrived with acks from these nodes; its link closes once it has every chunk of its
    /// stripes and every node of its ack subtree has acked through it.
    mutating func onReported(_ id: NodeID, acks: some Sequence<NodeID>) -> [RelayAction] {
        guard var child = children[id] else { return [] }
        child.reported = true
        if let subtree = child.subtrees[0] {
            let below = Set(subtree.nodes.map(\.id))
            for node in acks where below.contains(node) { child.acked.insert(node) }
        }
        children[id] = child
        return closeIfDone(id)
    }

    /// Whether every node of the child's ack subtree has acked through it (true for a child outside stripe 0).
    func ackComplete(_ child: Child) -> Bool {
        guard let subtree = child.subtrees[0] else { return true }
        return child.reported && child.acked.count >= subtree.nodes.count
    }

    /// Closes a child's link when there is nothing left to do on it: every chunk of its stripes sent, and, for a
    /// child in stripe tree 0, every ack of its subtree received. The link stays known until the shell reports
    /// it closed, so an ACK the child wrote before it read the BYE is still taken.
    mutating func closeIfDone(_ id: NodeID) -> [RelayAction] {
        guard var child = children[id], let link = child.link, child.phase == .streaming, child.inFlight == 0 else { return [] }
        guard isFullySent(child), ackComplete(child) else { return [] }
        child.phase = .finished
        children[id] = child
        return [.close(link, .done, reason: "done")]
    }

    /// The deployment's deadline passed: links kept open only for acks still to come are closed. A late ack then
    /// goes up over NATS from whichever node holds it; links still carrying chunks stay open.
    mutating func closeLingering() -> [RelayAction] {
        var actions: [RelayAction] = []
        for id in children.keys.sorted() {
            guard var child = children[id], let link = child.link, child.phase == .streaming, child.inFlight == 0,
                isFullySent(child), child.reported || child.subtrees[0] == nil
            else { continue }
            child.phase = .finished
            children[id] = child
            actions.append(.close(link, .done, reason: "deadline passed"))
        }
        return actions
    }

    /// Sets the number of stripe trees, learnt from the first PLAN (before any chunk is routed).
    mutating func setStripeCount(_ count: Int) {
        precondition(count >= 1)
        stripeCount = count
    }

    func isFullySent(_ child: Child) -> Bool {
        guard let keys = chunkKeys else { return false }
        for i in 0..<keys.count where child.subtrees[stripe(of: i)] != nil && !child.has.contains(i) { return false }
        return true
    }

    /// A child link failed to connect or dropped. Retries a few times, then gives up on the child: reports it
    /// unreachable and adopts its children in every stripe where this relay was its parent.
    mutating func onLinkFailed(_ link: LinkID, reason: String, now: Timestamp) -> (actions: [RelayAction], gaveUp: (NodeID, [NodeID])?) {
        guard let id = childByLink.removeValue(forKey: link), var child = children[id] else { return ([], nil) }
        guard child.link == link else { return ([], nil) }
        child.link = nil
        child.inFlight = 0
        // What was queued or in flight may be lost; the child says what it has when it reconnects.
        child.queue.removeAll()
        child.queued = ChunkSet(count: chunkKeys?.count ?? 0)
        let attempt: Int
        switch child.phase {
        case .connecting(let a), .awaitingAccept(let a), .waitingRetry(let a): attempt = a
        case .streaming: attempt = 1
        case .finished, .refused, .unreachable:
            children[id] = child
            return ([], nil)
        }
        if attempt < settings.linkAttempts {
            child.phase = .waitingRetry(attempt: attempt + 1)
            children[id] = child
            let delay = settings.linkRetryDelay * attempt
            return ([.retry(version, id, at: now + delay)], nil)
        }
        children[id] = child
        let (actions, adopted) = giveUp(id, reason: reason)
        return (actions, (id, adopted))
    }

    /// Gives up on a child: reports it unreachable and adopts its children in every stripe where this relay was its
    /// parent (their depth stays their planned depth, so their ack deadlines do not move).
    mutating func giveUp(_ id: NodeID, reason: String) -> (actions: [RelayAction], adopted: [NodeID]) {
        guard var child = children[id] else { return ([], []) }
        child.phase = .unreachable(reason: reason)
        children[id] = child
        var (actions, adopted) = adoptChildren(of: id)
        actions.append(.report(.childUnreachable(id, reason: reason, adopted: adopted)))
        return (actions, adopted)
    }

    /// Takes on the children of child `id` (unreachable, or refusing to relay) in every stripe it was to relay in,
    /// stripe by stripe; returns the actions and who was adopted.
    mutating func adoptChildren(of id: NodeID) -> (actions: [RelayAction], adopted: [NodeID]) {
        guard let child = children[id] else { return ([], []) }
        var actions: [RelayAction] = []
        var adopted: [NodeID] = []
        for stripe in child.subtrees.keys.sorted() {
            let subtree = child.subtrees[stripe]!
            for grandchild in subtree.children(of: 0) {
                let part = subtree.adopted(at: grandchild)
                // Depth of the adopted node stays its planned depth, so its ack deadline does not move.
                adopted.append(part.root.id)
                actions += addChild(part)
            }
        }
        return (actions, adopted)
    }

    /// Gossip's membership declared the child dead: give up on it now instead of after the link's tries (a stopped
    /// or cut-off child may keep a TCP connection open, or make each try wait for its connect timeout). Its link is
    /// closed, and a link event that comes for it later changes nothing. A child already finished, refused or given
    /// up on is left as it is.
    mutating func onChildDead(_ id: NodeID, reason: String) -> (actions: [RelayAction], gaveUp: Bool) {
        guard var child = children[id] else { return ([], false) }
        switch child.phase {
        case .finished, .refused, .unreachable: return ([], false)
        case .connecting, .awaitingAccept, .streaming, .waitingRetry: break
        }
        var actions: [RelayAction] = []
        if let link = child.link {
            childByLink[link] = nil
            actions.append(.close(link, nil, reason: reason))
        }
        child.link = nil
        child.inFlight = 0
        child.queue.removeAll()
        child.queued = ChunkSet(count: chunkKeys?.count ?? 0)
        children[id] = child
        actions += giveUp(id, reason: reason).actions
        return (actions, true)
    }

    /// A retry timer fired: connect again.
    mutating func onRetry(_ id: NodeID) -> [RelayAction] {
        guard var child = children[id], case .waitingRetry(let attempt) = child.phase else { return [] }
        let link = allocateLink()
        child.link = link
        child.phase = .connecting(attempt: attempt)
        children[id] = child
        childByLink[link] = id
        return [.connect(link, peer: child.node, purpose: .push)]
    }

    /// Every child link still open or closing, for closing at the end of a deployment.
    var openLinks: [LinkID] { childByLink.keys.sorted() }

    /// Whether a child still has chunks to come from here: it is being reached, or chunks of its stripes are
    /// queued for it or on their way. A child given up on, refused or finished has none.
    var isPushing: Bool {
        children.values.contains { child in
            switch child.phase {
            case .connecting, .awaitingAccept, .waitingRetry: true
            case .streaming: !child.queue.isEmpty || child.inFlight > 0
            case .unreachable, .refused, .finished: false
            }
        }
    }

    // MARK: Sending

    private mutating func enqueueAll(for id: NodeID) {
        guard var child = children[id], chunkKeys != nil else { return }
        for i in 0..<have.count where have.contains(i) && child.subtrees[stripe(of: i)] != nil {
            if !child.has.contains(i) && !child.queued.contains(i) {
                child.queue.append(Int32(i))
                child.queued.insert(i)
            }
        }
        children[id] = child
    }

    /// Sends queued chunks while the child's window has room.
    private mutating func pump(_ id: NodeID) -> [RelayAction] {
        guard var child = children[id], child.phase == .streaming, let link = child.link, let keys = chunkKeys, child.hasManifest else {
            return []
        }
        var actions: [RelayAction] = []
        while child.inFlight < settings.sendWindow, let next = child.queue.popFirst() {
            let i = Int(next)
            child.queued.remove(i)
            if child.has.contains(i) { continue }
            child.inFlight += 1
            actions.append(.send(link, .chunk(index: i, key: keys[i])))
        }
        children[id] = child
        return actions
    }
}
