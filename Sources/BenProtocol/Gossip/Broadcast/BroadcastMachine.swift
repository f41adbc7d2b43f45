public import BenCore

/// Spreads signed documents (announcements, alarms, revocations) to every node, and closes the gaps a partition or
/// a pause leaves: Plumtree epidemic broadcast trees (Leitão, Pereira and Rodrigues, SRDS 2007) plus Scuttlebutt-style
/// anti-entropy, as a plain value (CONVENTIONS habit 1).
///
/// **Plumtree.** Each neighbour is *eager* or *lazy*. A new document is pushed whole to the eager neighbours and
/// announced by id (IHAVE, batched) to the lazy ones. A node that gets a document it already had prunes the sender
/// to lazy; a node that hears IHAVE for a document it lacks waits `graftTimeout` for the eager copy and then grafts
/// the announcer (which sends the document and becomes eager). The eager links thus settle into a spanning tree
/// rooted at the broadcaster, and the lazy links repair it wherever it breaks. A node starts with only its first
/// `eagerPeers` view members eager (one per tier, `PeerSelection` orders them so), which keeps the first broadcast's
/// duplicates low. With `optimizationThreshold` > 0, a lazy path that is that many hops shorter than the tree path is
/// grafted in and the tree parent pruned.
///
/// **Anti-entropy.** Every `antiEntropyInterval` (jittered) the node sends its `VersionDigest` to a seeded-random view
/// member, which answers with its own. A node whose peer accepted a higher version pulls that announcement; when it
/// arrives it is delivered and pushed on into the tree, so the rest of a healed partition gets it by broadcast. A node
/// that can reach the ledger pulls the undelivered ack of a peer that cannot, publishes it and says so, which is how
/// the signed ack of a node cut off from NATS reaches the ledger. The digest also names the revocations the node keeps
/// (`RevocationDigest`); when a peer's differs, the node tells the peer the ids it keeps (`.revocations`) and the peer
/// pulls those it lacks, so a node that was down or cut off when a revocation went out still gets it. Kept
/// revocations are never evicted.
///
/// **Documents and sizes.** Messages are identified by their content key, computed by the shell. Whatever fits a
/// datagram (`maxDatagramBytes`, signature included) is pushed as one; a larger document is pushed or answered over
/// a peer link (`.sendOverLink`), while its IHAVE still goes by datagram.
///
/// **Authentication.** A refused datagram, or one from a node not on the roster, changes nothing and yields
/// `.refused`. The machine delivers documents (`.deliver`); whether a document changes the node's version state is the
/// agent's decision, on the document's own signature.
public struct BroadcastMachine: Sendable {
    /// Limits and timings of the broadcast layer; the defaults are what `ben-agent` runs with.
    public struct Settings: Sendable, Hashable {
        /// View members eager at the start (the view's first ones: one per tier).
        public var eagerPeers: Int = 3
        /// IHAVEs wait this long to be batched into one datagram per lazy neighbour.
        public var lazyPushDelay: Duration = .milliseconds(50)
        /// After the first IHAVE for a missing document, how long to wait for the eager copy before grafting.
        /// A few cross-region round trips, and more than `lazyPushDelay`.
        public var graftTimeout: Duration = .milliseconds(250)
        /// After a graft, how long before grafting the next announcer (about one round trip, Plumtree's timeout 2).
        public var graftRetry: Duration = .milliseconds(100)
        /// Graft a lazy path that is at least this many hops shorter than the tree path (0: never).
        public var optimizationThreshold: Int = 4
        /// One digest exchange per interval, ± a quarter, seeded.
        public var antiEntropyInterval: Duration = .seconds(2)
        /// A pull with no answer in this long is given up; the next exchange tries again.
        public var pullTimeout: Duration = .seconds(1)
        /// Documents are kept this long for grafts and pulls (the announcement and ack the digest names, always).
        public var cacheRetention: Duration = .seconds(600)
        /// Ids of documents seen are kept this long, so a late copy is known as a duplicate.
        public var idRetention: Duration = .seconds(1800)
        /// How often the cache is swept.
        public var evictEvery: Duration = .seconds(30)
        /// Every datagram, signature included, fits this; larger documents go over a peer link.
        public var maxDatagramBytes: Int = 1400
        /// Neighbours beyond the view (nodes that have this node in theirs) are taken up to this many in all.
        public var maxNeighbors: Int = 32
        /// Announcers remembered per missing document.
        public var maxSources: Int = 8
        /// Pulls outstanding at once when a peer names revocations this node lacks; the rest wait for the next
        /// exchange, so a peer naming many ids costs a bounded burst.
        public var maxRevocationPulls: Int = 16

        /// The defaults.
        public init() {}
    }

    /// What the shell tells the machine.
    public enum Input: Sendable, Hashable {
        /// Arm the anti-entropy and cache timers.
        case start
        /// Broadcast a document this node originates (the ledger's announcements, alarms and revocations).
        case broadcast(GossipDocument)
        /// This node got a document another way (NATS), or holds its own signed ack: keep it for grafts and pulls.
        /// Gossip still carries the document on through this node when its gossip copy arrives.
        case learned(GossipDocument)
        /// A broadcast datagram from `from`, with the shell's verdict on its signature (and its document's).
        case received(from: NodeID, BroadcastMessage, GossipAuthentication)
        /// The node's version state changed (the agent accepted or activated a version, signed an ack, NATS came or went).
        case localState(VersionDigest)
        /// The ledger's revocations this node keeps (all of them, each time the set changes): held for pulls, never
        /// evicted, and offered to a peer whose revocation digest differs.
        case keep([GossipDocument])
        /// Membership says a neighbour is dead (push nothing to it) or alive again (eager again, as Plumtree does).
        case neighborDown(NodeID)
        case neighborUp(NodeID)
        case timerFired(Timer)
    }

    /// What the machine asks the shell to do.
    public enum Action: Sendable, Hashable {
        /// Send this datagram (the shell signs it with this node's key).
        case send(to: NodeID, BroadcastMessage)
        /// Send this message over a peer link: its document does not fit a datagram.
        case sendOverLink(to: NodeID, BroadcastMessage)
        /// A document new to this node, for the agent (or the ledger) to act on; `from` is the neighbour it came by.
        case deliver(GossipDocument, from: NodeID)
        /// Publish this signed ack of another node on NATS (this node can reach the ledger; its owner cannot).
        case publishAck(GossipDocument)
        /// This node's own ack reached a peer that published it.
        case ackDelivered(Key)
        case armTimer(Timer, at: Timestamp)
        case cancelTimer(Timer)
        /// A datagram was refused and changed nothing.
        case refused(from: NodeID, reason: String)
    }

    /// The broadcast machine's timers; no other machine shares them.
    public enum Timer: Sendable, Hashable, CustomStringConvertible {
        /// Send the batched IHAVEs.
        case lazyPush
        /// The eager copy of this document is late: graft an announcer.
        case graft(Key)
        /// Exchange digests with a peer.
        case antiEntropy
        /// A pull of this document had no answer.
        case pull(Key)
        /// Sweep the document cache.
        case evict

        /// The action as logs name it.
        public var description: String {
            switch self {
            case .lazyPush: "lazy-push"
            case .graft(let k): "graft(\(k.short))"
            case .antiEntropy: "anti-entropy"
            case .pull(let k): "pull(\(k.short))"
            case .evict: "evict"
            }
        }
    }

    struct Neighbor: Sendable, Hashable {
        var id: NodeID
        var eager: Bool
        var up: Bool
    }

    struct Source: Sendable, Hashable {
        var peer: NodeID
        var round: UInt16
    }

    /// How a held document reached this node through gossip: its hop count and the neighbour that pushed it.
    struct Receipt: Sendable, Hashable {
        var round: UInt16
        var parent: NodeID?
    }

    /// Each document's phase at this node; each carries only what means something in it.
    enum MessageState: Sendable, Hashable {
        /// Announced by IHAVE but not held: who announced it, and whether a graft timer runs.
        case announced(Announced)
        /// Held. `gossip` is nil while the document is held only from elsewhere (NATS, this node's own ack): the
        /// tree has not reached this node yet, so IHAVEs still lead to a graft.
        case held(Held)
        /// The bytes were evicted; the id stays to recognise a late copy.
        case forgotten(since: Timestamp)
    }

    struct Announced: Sendable, Hashable {
        var sources: [Source]
        var since: Timestamp
        var grafting: Bool
    }

    struct Held: Sendable, Hashable {
        var document: GossipDocument
        var gossip: Receipt?
        var sources: [Source]
        var grafting: Bool
        var at: Timestamp
        /// Acks only: published toward the ledger by this node.
        var published: Bool
    }

    /// This node's id.
    public let node: NodeID
    /// The fleet; datagrams of another fleet are refused.
    public let fleet: FleetName
    /// The limits and timings it runs with.
    public let settings: Settings
    /// Every node the topology lists; no one else is ever a neighbour.
    public let roster: GossipRoster
    /// The view (`PeerSelection`): the neighbours this node chose, and its anti-entropy partners.
    public let view: [NodeID]
    var neighbors: [Neighbor]
    var messages: [Key: MessageState] = [:]
    var lazyQueue: [NodeID: [IHave]] = [:]
    var lazyArmed = false
    var pulls: [Key: NodeID] = [:]
    /// Peers whose last digest said they reach the ledger, newest first.
    var ledgerPeers: [NodeID] = []
    /// This node's own version state, as its digests say it.
    public internal(set) var local = VersionDigest()
    /// The ids of the revocations this node keeps, sorted: never evicted, offered to peers whose digest differs.
    public internal(set) var kept: [Key] = []
    var random: GossipRandom
    /// Documents this node received by eager push more than once (Plumtree's duplicates), for figures and logs.
    public internal(set) var duplicates = 0

    /// A machine for `node` whose neighbours start as `view`; `seed` makes its random choices replayable.
    public init(node: NodeID, fleet: FleetName, roster: GossipRoster, view: [NodeID], seed: UInt64, settings: Settings = Settings()) {
        self.node = node
        self.fleet = fleet
        self.roster = roster
        self.settings = settings
        self.view = view.filter { $0 != node && roster.contains($0) }
        neighbors = self.view.enumerated().map { Neighbor(id: $1, eager: $0 < settings.eagerPeers, up: true) }
        random = GossipRandom(seed: seed, stream: GossipRandom.hash(node.rawValue) ^ 0x504C_554D)
    }

    /// The one entry point (the simulator and fuzzers use it); each case goes to its `on…` method.
    public mutating func handle(_ input: Input, now: Timestamp) -> [Action] {
        switch input {
        case .start: onStart(now: now)
        case .broadcast(let document): onBroadcast(document, now: now)
        case .learned(let document): onLearned(document, now: now)
        case .received(let from, let message, let authentication): onMessage(message, from: from, authentication: authentication, now: now)
        case .localState(let digest): onLocalState(digest, now: now)
        case .keep(let documents): onKeep(documents, now: now)
        case .neighborDown(let peer): onNeighborDown(peer)
        case .neighborUp(let peer): onNeighborUp(peer)
        case .timerFired(let timer): onTimer(timer, now: now)
        }
    }

    // MARK: Queries

    /// Neighbours pushed to eagerly, and those sent IHAVEs, sorted.
    public var eagerPeers: [NodeID] { neighbors.filter { $0.eager && $0.up }.map(\.id).sorted() }
    /// Neighbours sent IHAVEs instead of whole documents, sorted.
    public var lazyPeers: [NodeID] { neighbors.filter { !$0.eager && $0.up }.map(\.id).sorted() }

    /// Whether this node holds the document's bytes.
    public func holds(_ id: Key) -> Bool {
        if case .held = messages[id] { return true }
        return false
    }

    /// How many hops the document took to reach this node through gossip, if it did.
    public func round(of id: Key) -> UInt16? {
        if case .held(let h) = messages[id] { return h.gossip?.round }
        return nil
    }
}
