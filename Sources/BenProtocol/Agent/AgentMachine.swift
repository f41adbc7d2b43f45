public import BenCore

/// An agent's whole protocol (DESIGN §6): `running(v) → announced(v') → receiving → compiling → swapped(v') →
/// acked`, with any failure returning to `running(v)` and a signed refusal.
///
/// A plain value with no IO, clock or randomness: the shell (`ben-agent`, or the simulator) feeds it facts —
/// an announcement arrived and its signature checked out, a chunk arrived and hashed to this key, a timer
/// fired — and carries out the `Action`s it returns. Hashing and signature checks are the shell's
/// arithmetic; every decision about them is made here.
public struct AgentMachine: Sendable {
    /// Limits and timings of one agent; the defaults are what `ben-agent` runs with.
    public struct Settings: Sendable, Hashable {
        /// Chunk frames in flight per child link; a slow child fills its own window and no one else's.
        public var sendWindow: Int = 4
        /// Tries to reach a child before adopting its children.
        public var linkAttempts: Int = 3
        /// Wait before the second try; the n-th try waits n times this.
        public var linkRetryDelay: Duration = .milliseconds(500)
        /// How long after accepting an announcement a node waits for a parent before pulling from the store.
        public var orphanAfter: Duration = .seconds(10)
        /// How often a receiving node checks for stripes that stopped making progress.
        public var progressCheckEvery: Duration = .seconds(1)
        /// A stripe is stalled when nothing at all (no byte, no keepalive) has come from any link feeding it for
        /// `stallChunkTimes` chunks at the plan's stripe rate, and never sooner than `stallFloor`. A slow but
        /// moving stream is not stalled; a parent waiting on its own parent says so with keepalives.
        public var stallFloor: Duration = .seconds(3)
        /// A stream counts as stalled after this many chunk times (see `stallFloor`).
        public var stallChunkTimes: Int = 4
        /// How much earlier than its parent a node sends its aggregate: depth d sends by deadline − d × step.
        public var ackStep: Duration = .seconds(2)
        /// How often a relay compares each child's queue with the last time, and how long a queue that is not
        /// shrinking may get before its newer half is handed to the child to fetch elsewhere (only when the relay
        /// also sends that child less than half what the plan's stripe rate expects). A child it has nothing
        /// for gets a keepalive at each check.
        public var relayCheckEvery: Duration = .seconds(1)
        /// A child gossip declares dead is kept while a chunk written to it left this recently: it is reading, so
        /// it is alive (a starved machine misses pings, not TCP). A stopped child's socket fills within a chunk or
        /// two, long before its suspicion runs out, so it is still adopted at once.
        public var childMovingGrace: Duration = .seconds(3)
        /// How many chunks long a child's non-shrinking queue may get before its newer half is handed off (see `relayCheckEvery`).
        public var handOffBacklog: Int = 4

        /// The defaults.
        public init() {}
    }

    /// Where this node is with the version it is working on.
    public enum Phase: Sendable, Hashable, CustomStringConvertible {
        /// Accepted; waiting for the manifest and chunks.
        case receiving
        case compiling
        /// Two-phase: compiled, not swapped in; a signed `prepared` ack went up. Waits for the activation.
        case prepared
        /// Swapped in and acked.
        case activated
        /// Compiled badly or could not be verified; the old version keeps running; a signed refusal went up.
        case refused(String)
        /// The ledger says this node is not a target of the version; nothing to do.
        case notTargeted
        /// The ledger's alarm stopped it before it was swapped in; the old version keeps running.
        case stopped(String)

        /// The phase as logs name it.
        public var description: String {
            switch self {
            case .receiving: "receiving"
            case .compiling: "compiling"
            case .prepared: "prepared"
            case .activated: "activated"
            case .refused(let r): "refused (\(r))"
            case .notTargeted: "not targeted"
            case .stopped(let r): "stopped by an alarm (\(r))"
            }
        }
    }

    /// This node's id, as the topology lists it.
    public let node: NodeID
    /// The fleet this node belongs to; frames and documents of another fleet are refused.
    public let fleet: FleetName
    /// The limits and timings it runs with.
    public let settings: Settings
    let signer: any AckSigner

    /// What is durable: the running version and the highest accepted one.
    public internal(set) var record: AgentRecord
    /// The deployment this node is working on or finished last; nil before any announcement.
    var deployment: Deployment?
    /// Versions whose announcement this node refused with a signed refusal over NATS (once each).
    var refusalsSent: Set<Version> = []
    /// Versions the ledger's alarms stopped: no activation of them is taken (until a restart; the aborted rollout
    /// publishes none again).
    public internal(set) var stopped: Set<Version> = []

    /// A machine that resumes from `record` (what the node kept on disk), signing its acks with `signer`.
    public init(node: NodeID, fleet: FleetName, record: AgentRecord, signer: any AckSigner, settings: Settings = Settings()) {
        self.node = node
        self.fleet = fleet
        self.record = record
        self.signer = signer
        self.settings = settings
    }

    /// The version this node serves.
    public var activeVersion: Version { record.active?.version ?? .none }
    /// The version being worked on, and its phase.
    public var current: (version: Version, phase: Phase)? { deployment.map { ($0.announcement.version, $0.phase) } }
    /// Chunks held of the current deployment, and how many it has.
    public var progress: (have: Int, of: Int)? {
        deployment.flatMap { d in d.chunkKeys.map { (d.have.cardinality, $0.count) } }
    }

    static let ledgerID: NodeID = .ledger
}

/// Signs what an agent says in its own name with its node key: its acks (`ben/ack/v1`) and its tamper reports
/// (`ben/report/v1`). Deterministic (Ed25519), so the machine stays pure.
public protocol AckSigner: Sendable {
    func sign(_ ack: Ack) -> SignedEnvelope
    func sign(_ report: TamperReport) -> SignedEnvelope
}

/// The outcome of the shell's signature check on an announcement.
public enum SignatureCheck: Sendable, Hashable {
    case valid
    case invalid(String)

    /// The verdict of `verify`, the shell's signature check: valid if it returns, else invalid with what it threw.
    public init(_ verify: () throws -> Void) {
        do {
            try verify()
            self = .valid
        } catch {
            self = .invalid("\(error)")
        }
    }
}

/// An announcement as the shell hands it in: read, with its signature checked against the trusted ledger keys.
public struct IncomingAnnouncement: Sendable, Hashable {
    /// The announcement, read strictly.
    public var announcement: Announcement
    /// The signed envelope's bytes as received, passed on unchanged in HELLOs to children.
    public var envelope: [UInt8]
    /// Whether the envelope's signature checked out against a trusted ledger key, and if not, why.
    public var signature: SignatureCheck

    /// An announcement as the shell read it and checked its signature.
    public init(announcement: Announcement, envelope: [UInt8], signature: SignatureCheck) {
        self.announcement = announcement
        self.envelope = envelope
        self.signature = signature
    }
}

/// What the node already holds of an announced bundle (after a restart, or from an earlier attempt).
public struct LocalHoldings: Sendable, Hashable {
    /// The keys of the bundle's chunks, in order, from the manifest.
    public var chunkKeys: [Key]
    /// Which of those chunks the store already holds.
    public var have: ChunkSet

    /// What the node holds: `have` indexes `chunkKeys`.
    public init(chunkKeys: [Key], have: ChunkSet) {
        self.chunkKeys = chunkKeys
        self.have = have
    }
}
