public import BenCore

/// The signed documents gossip carries. Gossip never reads them: it moves their bytes and names them by their key.
public enum DocumentKind: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The ledger's signed announcement of a version.
    case announcement = 1
    /// The ledger's signed alarm (a version to stop, a node to distrust).
    case alarm = 2
    /// The ledger's signed revocation of a key or a version.
    case revocation = 3
    /// A node's signed ack, on its way to a peer that can reach the ledger.
    case ack = 4
    /// The ledger's signed activation of a prepared version (two-phase rollouts): a node cut off from NATS swaps too.
    case activation = 5

    /// The kind as logs name it.
    public var description: String {
        switch self {
        case .announcement: "announcement"
        case .alarm: "alarm"
        case .revocation: "revocation"
        case .ack: "ack"
        case .activation: "activation"
        }
    }
}

/// A signed document as gossip holds it: its bytes exactly as signed, its kind, and its id, the BLAKE2b-256 key of
/// the bytes. The shell computes the id (the machines never hash) and checks the signature before a machine sees it.
public struct GossipDocument: Sendable, Hashable {
    /// The document's id: the BLAKE2b-256 key of `bytes`.
    public var id: Key
    /// What kind of document it is.
    public var kind: DocumentKind
    /// The signed document, byte for byte.
    public var bytes: [UInt8]

    /// A document whose id the shell computed.
    public init(id: Key, kind: DocumentKind, bytes: [UInt8]) {
        self.id = id
        self.kind = kind
        self.bytes = bytes
    }
}

/// One entry of an IHAVE: "I hold document `id`, which reached me after `round` hops".
public struct IHave: Sendable, Hashable {
    /// The document's id.
    public var id: Key
    /// How many hops it took to reach the sender.
    public var round: UInt16
    /// What kind of document it is.
    public var kind: DocumentKind
    /// The document's size, so a receiver knows before grafting whether it comes by datagram or over a peer link.
    public var size: UInt32

    /// An IHAVE entry.
    public init(id: Key, round: UInt16, kind: DocumentKind, size: UInt32) {
        self.id = id
        self.round = round
        self.kind = kind
        self.size = size
    }
}

/// This node's own ack, as the digest names it.
public struct AckDigest: Sendable, Hashable {
    /// The version acked.
    public var version: Version
    /// The signed ack document's id.
    public var id: Key
    /// The ledger has it: this node published it on NATS, or a peer that can reach the ledger said it did.
    public var delivered: Bool

    /// A digest of this node's ack.
    public init(version: Version, id: Key, delivered: Bool) {
        self.version = version
        self.id = id
        self.delivered = delivered
    }
}

/// The revocations a node keeps, as its digest names them: how many, and the BLAKE2b-256 key of their document ids
/// sorted and concatenated (the shell computes it; `GossipRevocations` in BenShell). Two nodes that keep the same
/// revocations send the same digest; a node whose peer's differs learns which documents the peer holds
/// (`BroadcastMessage.revocations`) and pulls those it lacks.
public struct RevocationDigest: Sendable, Hashable {
    /// How many revocation documents the node keeps.
    public var count: UInt32
    /// The key of their sorted ids.
    public var hash: Key

    /// A digest of a revocation set.
    public init(count: UInt32, hash: Key) {
        self.count = count
        self.hash = hash
    }
}

/// What a node tells a peer in an anti-entropy exchange (Scuttlebutt-style): how far its version state got, and
/// whether it can reach the ledger. The agent's version state fills it in; only signed documents ever change it.
public struct VersionDigest: Sendable, Hashable {
    /// The highest version whose announcement this node accepted, and that announcement's document id.
    public var highestAccepted: Version
    /// The id of the announcement of `highestAccepted`, once it has one.
    public var announcement: Key?
    /// The version it runs.
    public var active: Version
    /// Its newest signed ack.
    public var ack: AckDigest?
    /// It is connected to NATS, so an ack handed to it reaches the ledger.
    public var ledgerReachable: Bool
    /// The ledger's revocations it keeps; nil while it keeps none.
    public var revocations: RevocationDigest?

    /// A digest; the defaults are a node that has accepted nothing yet.
    public init(
        highestAccepted: Version = .none, announcement: Key? = nil, active: Version = .none, ack: AckDigest? = nil,
        ledgerReachable: Bool = false, revocations: RevocationDigest? = nil
    ) {
        self.highestAccepted = highestAccepted
        self.announcement = announcement
        self.active = active
        self.ack = ack
        self.ledgerReachable = ledgerReachable
        self.revocations = revocations
    }
}

/// A broadcast datagram: Plumtree's four messages, and the anti-entropy exchange.
public enum BroadcastMessage: Sendable, Hashable {
    /// Eager push: the document itself, `round` hops from where it was first broadcast.
    case gossip(GossipDocument, round: UInt16)
    /// Lazy push: ids of documents the sender holds, batched.
    case ihave([IHave])
    /// "Send me `id` and push to me eagerly from now on" (id nil: only the latter, for tree optimisation).
    case graft(Key?, round: UInt16)
    /// "Stop pushing to me eagerly; IHAVEs will do."
    case prune
    /// Anti-entropy: the sender's version digest; `reply` is false on the first leg, which the receiver answers.
    case digest(VersionDigest, reply: Bool)
    /// Anti-entropy: "send me document `id`".
    case pull(Key)
    /// Anti-entropy: the answer to a pull.
    case document(GossipDocument)
    /// "I published your ack `id` toward the ledger."
    case ackRelayed(Key)
    /// Anti-entropy: ids of revocation documents the sender keeps, sent when a peer's revocation digest differs from
    /// its own (split to fit datagrams); the receiver pulls those it lacks.
    case revocations([Key])

    /// The message's name in logs and metrics.
    public var name: String {
        switch self {
        case .gossip: "gossip"
        case .ihave: "ihave"
        case .graft: "graft"
        case .prune: "prune"
        case .digest: "digest"
        case .pull: "pull"
        case .document: "document"
        case .ackRelayed: "ack-relayed"
        case .revocations: "revocations"
        }
    }
}
