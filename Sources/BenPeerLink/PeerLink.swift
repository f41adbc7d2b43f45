public import BenProtocol
public import Logging
public import NIOCore
public import NIOPosix
import Glibc

/// A peer link as the shells use it: an async channel of frames in and frames out.
public typealias PeerChannel = NIOAsyncChannel<PeerFrame, PeerFrame>

/// Opening and accepting peer links (DESIGN §5): length-prefixed frames over TCP, parents connecting to
/// children, each link closed with a logged reason on anything malformed.
public enum PeerLink {
    /// Listens for peer links; each accepted link arrives on the returned channel's inbound stream.
    public static func listen(
        host: String, port: Int, settings: PeerLinkSettings = .init(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> NIOAsyncChannel<PeerChannel, Never> {
        try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(PeerFrameDecoderHandler(settings: settings, logger: logger))
                    try channel.pipeline.syncOperations.addHandler(PeerFrameEncoderHandler())
                    try channel.syncOptions?.setOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                    return try PeerChannel(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// Connects to a peer's listener.
    public static func connect(
        host: String, port: Int, settings: PeerLinkSettings = .init(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> PeerChannel {
        try await ClientBootstrap(group: group)
            .connectTimeout(settings.connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(PeerFrameDecoderHandler(settings: settings, logger: logger))
                    try channel.pipeline.syncOperations.addHandler(PeerFrameEncoderHandler())
                    return try PeerChannel(wrappingChannelSynchronously: channel)
                }
            }
    }
}

extension PeerLink {
    /// A connection failure in a few words an operator can act on ("connection refused", "timed out").
    public static func describe(_ error: any Error) -> String {
        if let connection = error as? NIOConnectionError {
            if let failure = connection.connectionErrors.first { return describe(failure.error) }
            if let dns = connection.dnsAError ?? connection.dnsAAAAError { return "cannot resolve the address: \(dns)" }
            return "cannot connect"
        }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        if error is ChannelError, case ChannelError.connectTimeout = error { return "connection timed out" }
        return "\(error)"
    }
}
