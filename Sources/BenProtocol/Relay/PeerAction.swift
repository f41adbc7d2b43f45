public import BenCore

/// What a peer machine (an agent, or the ledger's seeder) asks its shell to do. The shell carries these out
/// in order; where order matters (persist before ack) the machine emits them in that order.
public enum PeerAction: Sendable, Hashable {
    /// Open a TCP link to `peer` and, once connected, report `onLinkConnected`.
    case connect(LinkID, peer: PlanNode, purpose: Hello.Purpose)
    /// Write one frame on a link. `.chunk` and `.manifest` are read from the shell's store when sent.
    case send(LinkID, OutboundFrame)
    /// Close a link, after a BYE with this code and reason if one is given.
    case close(LinkID, ByeCode?, reason: String)
    /// Store the chunk whose frame is being handled (its bytes were checked against `key`).
    case storeChunk(index: Int, key: Key)
    /// Store the manifest whose frame is being handled (its bytes were checked against `key`).
    case storeManifest(Key)
    /// Make this state durable before carrying out any later action.
    case persist(AgentRecord)
    /// Compile the artifacts this node's roles need, off the hot path; report `onCompiled`.
    case compile(Version, manifest: Key)
    /// Swap the compiled version in (one atomic reference swap).
    case activate(Version)
    /// Drop a compiled but never activated version.
    case discardCompiled(Version)
    /// Publish an aggregate on `ben.<fleet>.ack` (orphans, and relays whose parent link is gone).
    case publishAggregate(Aggregate)
    /// The ledger only: hand an aggregate that reached the root to the deployment machine, which checks every
    /// signature in it.
    case ingest(Aggregate)
    case armTimer(TimerID, at: Timestamp)
    case cancelTimer(TimerID)
    /// Something an operator may want in the log; the machine decided it, the shell writes it.
    case report(PeerReport)
}

/// A frame as a machine asks for it; the shell fills in bytes from its store and the signed documents it holds.
public enum OutboundFrame: Sendable, Hashable {
    case hello(Hello)
    case plan(Subtree)
    case manifest(Key)
    case chunk(index: Int, key: Key)
    case ack(Aggregate)
    case nack([NackEntry])
    case bye(ByeCode, String)

    public var isChunk: Bool {
        if case .chunk = self { true } else { false }
    }

    /// Chunks and the manifest: bytes read from the store, useless to a link that is closing.
    public var isBulk: Bool {
        switch self {
        case .chunk, .manifest: true
        default: false
        }
    }
}

/// What an agent keeps on disk so that a restart serves its last verified version at once, never accepts an
/// older announcement, and answers a question it already answered with the same signed bytes (DESIGN §6, §9).
public struct AgentRecord: Sendable, Hashable {
    /// The version running now, and its manifest; nil before the first activation.
    public var active: ActiveVersion?
    /// The highest version whose announcement this node accepted (anti-rollback survives restarts).
    public var highestAccepted: Version
    /// The signed ack or refusal this node made for the newest version it finished: asked about that version
    /// again (a retry, a new parent, a restart), it sends these bytes again instead of staying silent.
    public var lastAnswer: SignedAnswer?
    /// The highest ledger lease epoch this node accepted an announcement from (fencing survives restarts).
    public var highestEpoch: UInt64

    public init(active: ActiveVersion?, highestAccepted: Version, lastAnswer: SignedAnswer? = nil, highestEpoch: UInt64 = 0) {
        self.active = active
        self.highestAccepted = highestAccepted
        self.lastAnswer = lastAnswer
        self.highestEpoch = highestEpoch
    }
}

/// A node's signed answer to one version, kept so that acks are idempotent: the same question gets the same
/// signed document, never silence and never a second transfer.
public struct SignedAnswer: Sendable, Hashable {
    public var version: Version
    public var manifest: Key
    public var status: Ack.Status
    public var envelope: SignedEnvelope
    /// When the announcement this answer last went out for was issued: a re-announcement issued later (a
    /// `--retry`) is answered again, the same one read again (a restart catching up on JetStream) is not.
    public var answeredIssue: Timestamp

    public init(version: Version, manifest: Key, status: Ack.Status, envelope: SignedEnvelope, answeredIssue: Timestamp) {
        self.version = version
        self.manifest = manifest
        self.status = status
        self.envelope = envelope
        self.answeredIssue = answeredIssue
    }
}

public struct ActiveVersion: Sendable, Hashable {
    public var version: Version
    public var manifest: Key

    public init(version: Version, manifest: Key) {
        self.version = version
        self.manifest = manifest
    }
}

/// Things worth an operator's attention, as values; the shell logs them with metadata.
public enum PeerReport: Sendable, Hashable, CustomStringConvertible {
    case announcementRefused(version: Version, reason: AnnouncementRefusal)
    case announcementAccepted(Version)
    case tamperedChunk(index: Int, from: NodeID)
    case tamperedManifest(from: NodeID)
    case childUnreachable(NodeID, reason: String, adopted: [NodeID])
    case orphaned(Version)
    case stripeStalled(stripe: Int, missing: Int)
    /// This relay's upload to a child fell behind what arrives for it; the newest queued chunks were handed to
    /// the child to fetch elsewhere.
    case backlogHandedOff(child: NodeID, chunks: Int, backlog: Int)
    case activated(Version)
    case refused(Version, reason: String)
    /// Asked again about a version it already answered, the node sent its signed answer again.
    case answeredAgain(Version, status: Ack.Status, via: String)
    /// The node sent its signed ack or aggregate up: to its ack parent, or over NATS.
    case aggregateSent(Version, acks: Int, missing: Int, via: String)
    case superseded(old: Version, new: Version)
    case protocolViolation(LinkID, String)

    public var description: String {
        switch self {
        case .announcementRefused(let v, let r): "refused announcement of \(v): \(r)"
        case .announcementAccepted(let v): "accepted announcement of \(v)"
        case .tamperedChunk(let i, let n): "chunk \(i) from \(n) does not match its key; refused, fetching it elsewhere"
        case .tamperedManifest(let n): "manifest from \(n) does not match the announced key; refused"
        case .childUnreachable(let c, let r, let a):
            "child \(c) unreachable (\(r)); adopted \(a.isEmpty ? "no one" : a.map(\.rawValue).joined(separator: ", "))"
        case .orphaned(let v): "no parent reached this node for \(v); pulling from the ledger's store"
        case .stripeStalled(let s, let m): "stripe \(s) stalled with \(m) chunks missing; fetching them elsewhere"
        case .backlogHandedOff(let c, let n, let b):
            "upload to \(c) is \(b) chunks behind and growing; handed it the newest \(n) to fetch elsewhere"
        case .activated(let v): "activated \(v)"
        case .refused(let v, let r): "refused \(v): \(r)"
        case .answeredAgain(let v, let status, let via): "asked again about \(v): sent the same signed \(status == .active ? "ack" : "refusal") \(via)"
        case .aggregateSent(let v, let acks, let missing, let via):
            "sent the aggregate for \(v) \(via): \(acks) \(acks == 1 ? "ack" : "acks"), \(missing) missing"
        case .superseded(let o, let n): "\(o) superseded by \(n)"
        case .protocolViolation(let l, let d): "protocol violation on \(l): \(d)"
        }
    }
}

/// Why an agent did not act on an announcement (DESIGN §5).
public enum AnnouncementRefusal: Sendable, Hashable, CustomStringConvertible {
    case badSignature(String)
    case otherFleet(FleetName)
    case notNewer(running: Version)
    case rollback(highestAccepted: Version)
    case conflictingManifest
    case expired(at: Timestamp)
    case malformed(String)
    /// Signed under an older lease epoch than one this node already accepted: from a ledger that lost its lease.
    case staleEpoch(UInt64, highest: UInt64)

    public var description: String {
        switch self {
        case .badSignature(let detail): "signature: \(detail)"
        case .otherFleet(let f): "it is for fleet \(f)"
        case .notNewer(let v): "not newer than the running \(v)"
        case .rollback(let v): "older than \(v), which this node already accepted (anti-rollback)"
        case .conflictingManifest: "same version as one already accepted, but another manifest"
        case .expired(let t): "expired at \(t)"
        case .malformed(let detail): "malformed: \(detail)"
        case .staleEpoch(let e, let h): "epoch \(e) is older than epoch \(h), which this node already accepted (a ledger that lost its lease)"
        }
    }

    /// The BYE reason a link carries when a child refuses this way.
    public var byeReason: String { description }
}
