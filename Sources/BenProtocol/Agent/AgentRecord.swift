public import BenCore

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

    /// A record; a fresh node has no active version, `.none` accepted, no answer and epoch 0.
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
    /// The version answered.
    public var version: Version
    /// The manifest the answer is about.
    public var manifest: Key
    /// Activated or refused.
    public var status: Ack.Status
    /// The signed ack, exactly as it was sent.
    public var envelope: SignedEnvelope
    /// When the announcement this answer last went out for was issued: a re-announcement issued later (a
    /// `--retry`) is answered again, the same one read again (a restart catching up on JetStream) is not.
    public var answeredIssue: Timestamp

    /// An answer as the node signed it.
    public init(version: Version, manifest: Key, status: Ack.Status, envelope: SignedEnvelope, answeredIssue: Timestamp) {
        self.version = version
        self.manifest = manifest
        self.status = status
        self.envelope = envelope
        self.answeredIssue = answeredIssue
    }
}

/// The version a node runs, and its manifest.
public struct ActiveVersion: Sendable, Hashable {
    /// The version.
    public var version: Version
    /// Key of its manifest.
    public var manifest: Key

    /// The version `version`, with manifest `manifest`.
    public init(version: Version, manifest: Key) {
        self.version = version
        self.manifest = manifest
    }
}
