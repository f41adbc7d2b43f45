public import BenProtocol
public import NIOCore

/// How peer links behave (one `Settings` per module, loaded by the shells).
public struct PeerLinkSettings: Sendable {
    /// Frame size bounds, per kind.
    public var limits: PeerFrameCodec.Limits
    /// While a frame is half-received, the peer must deliver at least this many bytes per second, measured over
    /// `rateWindow`; a peer that trickles is dropped, so it cannot hold a relay's buffer hostage.
    public var minimumRate: Int
    public var rateWindow: TimeAmount
    /// A single frame must arrive within this long, however fast the bytes trickle in.
    public var frameDeadline: TimeAmount
    public var connectTimeout: TimeAmount
    /// How long a closing link waits for the peer to close its side after everything was written (a peer that
    /// is gone without a word is dropped after this).
    public var closeLinger: Duration = .seconds(30)

    public init(
        limits: PeerFrameCodec.Limits = .init(), minimumRate: Int = 32 * 1024, rateWindow: TimeAmount = .seconds(2),
        frameDeadline: TimeAmount = .seconds(60), connectTimeout: TimeAmount = .seconds(3)
    ) {
        self.limits = limits
        self.minimumRate = minimumRate
        self.rateWindow = rateWindow
        self.frameDeadline = frameDeadline
        self.connectTimeout = connectTimeout
    }
}

/// Why a link was closed from this side.
public enum PeerLinkError: Error, Sendable, Hashable, CustomStringConvertible {
    case frame(FrameError)
    case tooSlow(bytesPerSecond: Int, minimum: Int)
    case frameDeadline(seconds: Int64)

    public var description: String {
        switch self {
        case .frame(let e): e.description
        case .tooSlow(let rate, let minimum):
            "the peer sent \(rate) B/s inside a frame, below the minimum of \(minimum) B/s; dropped"
        case .frameDeadline(let s): "a frame took more than \(s) s to arrive; dropped"
        }
    }
}
