public import BenProtocol
public import NIOCore
import Synchronization

/// How peer links behave (one `Settings` per module, loaded by the shells).
public struct PeerLinkSettings: Sendable {
    /// Frame size bounds, per kind. CHUNK frames are bounded by `chunkFrames` instead, which follows the fleet.
    public var limits: PeerFrameCodec.Limits
    /// The largest CHUNK frame this process accepts now: the largest chunk of the bundles it has accepted
    /// announcements for, plus a header (docs/formats.md). Shared by every link of the process.
    public var chunkFrames: ChunkFrameLimit
    /// Who this process is on its links and whom it trusts; nil only in tests of the frame layer alone.
    public var security: LinkSecurity?
    /// The handshake (both hellos, both finishes) must be done within this long of the connection.
    public var handshakeTimeout: TimeAmount
    /// After the handshake, the first frame must be HELLO and arrive within this long.
    public var helloTimeout: TimeAmount
    /// A link on which nothing was sent or received for this long is closed.
    public var idleTimeout: TimeAmount
    /// Links accepted at once beyond this are closed on arrival (connections this process made do not count).
    public var maxInboundLinks: Int
    public var connectTimeout: TimeAmount
    /// How long a closing link waits for the peer to close its side after everything was written (a peer that
    /// is gone without a word is dropped after this).
    public var closeLinger: Duration = .seconds(30)

    public init(
        limits: PeerFrameCodec.Limits = .init(maxHelloFrame: 256 << 10), chunkFrames: ChunkFrameLimit = ChunkFrameLimit(),
        security: LinkSecurity? = nil, handshakeTimeout: TimeAmount = .seconds(10), helloTimeout: TimeAmount = .seconds(10),
        idleTimeout: TimeAmount = .seconds(600), maxInboundLinks: Int = 1024, connectTimeout: TimeAmount = .seconds(3)
    ) {
        self.limits = limits
        self.chunkFrames = chunkFrames
        self.security = security
        self.handshakeTimeout = handshakeTimeout
        self.helloTimeout = helloTimeout
        self.idleTimeout = idleTimeout
        self.maxInboundLinks = maxInboundLinks
        self.connectTimeout = connectTimeout
    }

    /// The frame limits in force now.
    var currentLimits: PeerFrameCodec.Limits {
        var l = limits
        l.maxChunkFrame = chunkFrames.value
        return l
    }

    /// The largest record a link accepts: the largest frame of any kind, with its length prefix.
    var largestRecord: Int {
        max(limits.maxDocumentFrame, limits.maxHelloFrame, limits.maxControlFrame, chunkFrames.value) + 8
    }
}

/// The largest CHUNK frame a process accepts: a chunk of the largest size in the manifests it has verified,
/// plus `header` bytes of frame header (docs/formats.md). None until the first manifest (the ledger never has
/// one to receive chunks by: it receives none). A link also accepts the chunk size of a manifest that came on it.
public final class ChunkFrameLimit: Sendable {
    public static let header = 1024
    private let largestChunk = Mutex<Int>(0)

    public init() {}

    /// A verified manifest has chunks of up to `bytes`.
    public func allow(chunkBytes bytes: Int) {
        largestChunk.withLock { $0 = max($0, bytes) }
    }

    public var value: Int { largestChunk.withLock { $0 == 0 ? 0 : $0 + Self.header } }
}

/// Why a link was closed from this side.
public enum PeerLinkError: Error, Sendable, Hashable, CustomStringConvertible {
    case frame(FrameError)
    case helloTimeout(seconds: Int64)
    case helloFirst(PeerFrame.Kind)

    public var description: String {
        switch self {
        case .frame(let e): e.description
        case .helloTimeout(let s): "no HELLO within \(s) s of the handshake; dropped"
        case .helloFirst(let kind): "the first frame was \(kind), not HELLO; dropped"
        }
    }
}
