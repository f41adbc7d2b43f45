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

    var announcement: Announcement
    var envelope: [UInt8]
    var phase: AgentMachine.Phase
    var chunkKeys: [Key]?
    var have: ChunkSet
    var relay: RelayCore
    /// This node's subtree in each stripe tree, as its parent in that tree sent it.
    var subtrees: [Int: Subtree] = [:]
    var parents: [LinkID: ParentLink] = [:]
    /// The link to the parent in stripe tree 0, where acks go.
    var ackParent: LinkID?
    /// This node had an ack parent and lost it (link gone, or distrusted): acks then go straight to the ledger.
    var ackParentLost = false
    /// Some parent or holder has reached this node (or it reached one): no need to act as an orphan.
    var contacted = false
    /// The ledger accepted this node's pull: it is a target of the version. A node only compiles and swaps a
    /// version it was contacted for or confirmed as a target of, so an announcement alone (a node outside the
    /// selector that happens to hold the bundle) never activates anything.
    var targetConfirmed = false
    /// How many edges lie below this node in the ack tree (from its stripe-0 subtree), for its ack deadline.
    var ackHeight = 0
    /// No parent came by the orphan deadline; this node pulls and acks straight to the ledger.
    var orphaned = false
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
    /// When this node was first contacted (or became an orphan): links not yet heard from count from here.
    var contactedAt: Timestamp?
    /// The largest chunk of the bundle, from the manifest (for the stripe rate's chunk time).
    var chunkBytes: Int64 = 0
    var acks = AckBook()
    /// Reports about other nodes to pass up (a relay that served tampered bytes).
    var reports: [Aggregate.Missing] = []

    var version: Version { announcement.version }
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
    var own: SignedEnvelope?
    /// Acks received from each ack child's aggregates, by the node each ack is from.
    var received: [NodeID: SignedEnvelope] = [:]
    /// What ack children reported as missing below them, by reporting child.
    var missingFromChildren: [NodeID: [Aggregate.Missing]] = [:]
    /// Ack children that have sent at least one aggregate.
    var reported: Set<NodeID> = []
    /// Whether the first aggregate has gone up.
    var sentUp = false
    /// Nodes whose acks have gone up already.
    var sentAcks: Set<NodeID> = []
    /// Whether this node's own ack has gone up.
    var ownSent = false
    /// Evidence about tampering relays already sent up.
    var sentEvidence: Set<Aggregate.Missing> = []
}
