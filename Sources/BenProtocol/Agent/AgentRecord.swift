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
