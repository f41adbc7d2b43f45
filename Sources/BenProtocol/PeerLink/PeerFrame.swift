public import BenCore
public import NIOCore

/// One frame of the peer link (DESIGN §5): the TCP link a parent opens to a child, or a puller opens to a node
/// that holds chunks.
///
/// Wire form, all integers big-endian:
///
///     u32 length (of everything after this field)
///     u8  kind
///     u8  fleet length, fleet bytes (UTF-8)
///     u64 version
///     kind-specific body
///
/// Documents inside frames (announcement envelopes, subtrees, manifests, aggregates) travel as their JSON
/// bytes; the shell reads them with BenCore's strict decoders, so the codec never trusts a length it has not
/// bounded.
public enum PeerFrame: Sendable, Hashable {
    case hello(Hello)
    /// The receiver's part of one stripe tree (`Subtree`, JSON).
    case plan(FrameHeader, subtree: [UInt8])
    /// The bundle's manifest (canonical JSON); its key must equal the announcement's `manifest`.
    case manifest(FrameHeader, bytes: [UInt8])
    /// Chunk number `index` of the bundle (its position in `Manifest.chunkKeys`), claimed to have `key`.
    case chunk(FrameHeader, index: UInt32, key: Key, bytes: ByteBuffer)
    /// An aggregate of acks (JSON), child to parent on the ack tree.
    case ack(FrameHeader, aggregate: [UInt8])
    /// Chunks the sender refuses, lacks or wants.
    case nack(FrameHeader, [NackEntry])
    /// The sender is closing the link, and why.
    case bye(FrameHeader, code: ByeCode, reason: String)
    /// A gossip message too large for a datagram (`GossipWire`'s bytes, signature included): the only frame on a
    /// link a gossip member opens to deliver it. Self-authenticating, so it needs no HELLO; the header's version is 0.
    case gossip(FrameHeader, datagram: [UInt8])

    /// The fleet and version the frame is for.
    public var header: FrameHeader {
        switch self {
        case .hello(let h): h.header
        case .plan(let h, _), .manifest(let h, _), .chunk(let h, _, _, _), .ack(let h, _), .nack(let h, _), .bye(let h, _, _),
            .gossip(let h, _):
            h
        }
    }

    /// The frame's kind: its type byte.
    public var kind: Kind {
        switch self {
        case .hello: .hello
        case .plan: .plan
        case .manifest: .manifest
        case .chunk: .chunk
        case .ack: .ack
        case .nack: .nack
        case .bye: .bye
        case .gossip: .gossip
        }
    }

    /// The frame types, as their type byte.
    public enum Kind: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case hello = 1
        case plan = 2
        case manifest = 3
        case chunk = 4
        case ack = 5
        case nack = 6
        case bye = 7
        case gossip = 8

        /// The kind as logs name it.
        public var description: String {
            switch self {
            case .hello: "HELLO"
            case .plan: "PLAN"
            case .manifest: "MANIFEST"
            case .chunk: "CHUNK"
            case .ack: "ACK"
            case .nack: "NACK"
            case .bye: "BYE"
            case .gossip: "GOSSIP"
            }
        }
    }
}

/// Every frame names its fleet and version, so a frame for another fleet or an old version is refused on sight.
public struct FrameHeader: Sendable, Hashable {
    /// The fleet.
    public var fleet: FleetName
    /// The version.
    public var version: Version

    /// A header for `version` of `fleet`.
    public init(fleet: FleetName, version: Version) {
        self.fleet = fleet
        self.version = version
    }
}

/// The first frame each side sends.
///
/// The side that connects sends its purpose and the signed announcement (so a child that missed NATS can still
/// verify what it is offered); the side that accepts answers with what it already holds, so a resumed transfer
/// sends only the missing chunks.
public struct Hello: Sendable, Hashable {
    /// Why the sender opened the link.
    public enum Purpose: UInt8, Sendable, Hashable {
        /// A parent opening a link to push the plan, manifest and chunks to its child.
        case push = 1
        /// A node that wants chunks (an orphan, or one refetching a tampered chunk) asking a holder for them.
        case pull = 2
        /// The accepting side's answer.
        case accept = 3
    }

    /// The peer-link protocol version this build speaks.
    public static let protocolVersion: UInt8 = 1

    /// The fleet and version the link is for.
    public var header: FrameHeader
    /// The sender's protocol version.
    public var protocolVersion: UInt8
    /// Why the sender opened the link.
    public var purpose: Purpose
    /// The sender's node id (the ledger uses its own name, "ledger").
    public var node: NodeID
    /// The signed announcement envelope (JSON); empty on `.accept`.
    public var announcement: [UInt8]
    /// On `.accept`: whether the sender already holds the manifest.
    public var hasManifest: Bool
    /// On `.accept`: which chunk indexes the sender already holds (bit i = chunk i).
    public var have: ChunkSet

    /// A HELLO from `node`; an accept may say what it holds already.
    public init(
        header: FrameHeader, purpose: Purpose, node: NodeID, announcement: [UInt8] = [], hasManifest: Bool = false,
        have: ChunkSet = ChunkSet(count: 0), protocolVersion: UInt8 = Hello.protocolVersion
    ) {
        self.header = header
        self.protocolVersion = protocolVersion
        self.purpose = purpose
        self.node = node
        self.announcement = announcement
        self.hasManifest = hasManifest
        self.have = have
    }
}

/// One chunk a NACK is about. Index `NackEntry.manifestIndex` stands for the manifest itself.
public struct NackEntry: Sendable, Hashable {
    /// What a NACK entry asks for or reports.
    public enum Code: UInt8, Sendable, Hashable, CustomStringConvertible {
        /// "Send me this" (a pull request).
        case want = 1
        /// "I do not have this" (the answer to a want the holder cannot serve).
        case lacking = 2
        /// "What you sent under this index does not hash to its key."
        case tampered = 3

        /// The code as logs name it.
        public var description: String {
            switch self {
            case .want: "want"
            case .lacking: "lacking"
            case .tampered: "tampered"
            }
        }
    }

    /// The index that stands for the manifest.
    public static let manifestIndex = UInt32.max

    /// The chunk index, or `manifestIndex`.
    public var index: UInt32
    /// What is asked for or reported.
    public var code: Code

    /// An entry about chunk `index`.
    public init(index: UInt32, code: Code) {
        self.index = index
        self.code = code
    }
}

/// Why a link is being closed.
public enum ByeCode: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// The work on this link is done.
    case done = 0
    /// The receiver refuses the announcement (bad signature, other fleet, not newer, expired).
    case refusedAnnouncement = 1
    /// A newer version superseded this one.
    case superseded = 2
    /// The peer broke the protocol.
    case protocolError = 3
    /// The sender is shutting down.
    case shutdown = 4
    /// A puller asked the ledger for a version whose plan does not include it.
    case notTargeted = 5

    /// The code as logs name it.
    public var description: String {
        switch self {
        case .done: "done"
        case .refusedAnnouncement: "refused announcement"
        case .superseded: "superseded"
        case .protocolError: "protocol error"
        case .shutdown: "shutdown"
        case .notTargeted: "not a target of this version"
        }
    }
}
