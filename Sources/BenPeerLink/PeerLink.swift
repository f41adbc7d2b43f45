public import BenCore
public import BenProtocol
public import Logging
public import NIOCore
public import NIOPosix
import Atomics
import Glibc
import Synchronization

/// A peer link as the shells use it: an async channel of frames in and frames out.
public typealias PeerChannel = NIOAsyncChannel<PeerFrame, PeerFrame>

/// Opening and accepting peer links (DESIGN §5): length-prefixed frames over TCP, parents connecting to
/// children, each link closed with a logged reason on anything malformed.
public enum PeerLink {
    /// Listens for peer links; each accepted link arrives on the returned channel's inbound stream, its handshake
    /// under way (`LinkSet` waits for it before it reads a frame).
    public static func listen(
        host: String, port: Int, settings: PeerLinkSettings = .init(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> NIOAsyncChannel<PeerChannel, Never> {
        try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    _ = try addHandlers(channel, role: .server, expected: nil, settings: settings, logger: logger)
                    try channel.syncOptions?.setOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                    return try wrap(channel)
                }
            }
    }

    /// Connects to `target`'s listener and runs the handshake: returns once both sides have proven their keys,
    /// with who the peer turned out to be. `expected` is the target's signed assignment when this side holds it
    /// (a child's, from the subtree): it names the key the target must prove.
    public static func connect(
        host: String, port: Int, target: NodeID, expected: SignedEnvelope? = nil, settings: PeerLinkSettings = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) async throws -> (PeerChannel, LinkPeerInfo?) {
        // The handshake's future is taken when the handlers are added: a refused link loses its handlers when it
        // closes, so looking for it afterwards could find nothing.
        let (channel, established) = try await ClientBootstrap(group: group)
            .connectTimeout(settings.connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let established = try addHandlers(
                        channel, role: .client(target: target), expected: expected, settings: settings, logger: logger)
                    return (try wrap(channel), established)
                }
            }
        do {
            return (channel, try await established?.get())
        } catch {
            try? await channel.executeThenClose { _, _ in }
            throw error
        }
    }

    /// Waits for a link's handshake; nil when links run without one (`secured` false: `settings.security == nil`,
    /// tests only). A secured link whose handshake failed may have lost its handlers by the time this looks: that
    /// is a refusal, never a link without a handshake.
    public static func handshake(of channel: PeerChannel, secured: Bool) async throws -> LinkPeerInfo? {
        guard secured else { return nil }
        let inner = channel.channel
        let established = try await inner.eventLoop.submit {
            (try? inner.pipeline.syncOperations.handler(type: LinkSecurityHandler.self))?.established.futureResult
        }.get()
        guard let established else {
            throw LinkRefused(reason: .handshake, detail: "the link closed during its handshake")
        }
        return try await established.get()
    }

    static func addHandlers(
        _ channel: any Channel, role: LinkHandshake.Role, expected: SignedEnvelope?, settings: PeerLinkSettings, logger: Logger
    ) throws -> EventLoopFuture<LinkPeerInfo>? {
        var established: EventLoopFuture<LinkPeerInfo>?
        if let security = settings.security {
            let handler = LinkSecurityHandler(
                security: security, role: role, expected: expected, settings: settings, eventLoop: channel.eventLoop, logger: logger)
            established = handler.established.futureResult
            try channel.pipeline.syncOperations.addHandler(handler)
        }
        try channel.pipeline.syncOperations.addHandler(PeerFrameDecoderHandler(settings: settings, logger: logger))
        try channel.pipeline.syncOperations.addHandler(PeerFrameEncoderHandler())
        return established
    }

    /// Both directions close on their own (`LinkSet.run`): finishing the writer half-closes after everything
    /// queued has been written, and the peer's FIN ends the reader without closing the channel.
    static func wrap(_ channel: any Channel) throws -> PeerChannel {
        try channel.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        return try PeerChannel(
            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
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

extension PeerLink {
    /// Hands each accepted link to `handle` until the calling task is cancelled; `handle` should start the
    /// link's work and return. Cancellation closes the listening socket, and links accepted but not yet handed
    /// out are closed rather than dropped: swift-nio traps when an accepted `NIOAsyncChannel` is released without
    /// being closed, which is what cancelling a plain loop over a listener's inbound stream does to the links
    /// still buffered in it (apple/swift-nio#2813).
    public static func acceptLinks(
        on listener: NIOAsyncChannel<PeerChannel, Never>, _ handle: @escaping @Sendable (AcceptedLink) async -> Void
    ) async throws {
        let closing = ManagedAtomic<Bool>(false)
        let server = listener.channel
        // The loop runs where cancellation does not reach, so the inbound stream is drained, never dropped; the
        // cancellation handler ends it by closing the listening socket.
        let loop = Task {
            try await listener.executeThenClose { inbound in
                for try await link in inbound {
                    if closing.load(ordering: .acquiring) {
                        try? await link.executeThenClose { _, _ in }
                    } else {
                        await handle(AcceptedLink(link))
                    }
                }
            }
        }
        try await withTaskCancellationHandler {
            try await loop.value
        } onCancel: {
            closing.store(true, ordering: .releasing)
            server.close(promise: nil)
        }
    }
}

/// An accepted link on its way to the task that will serve it. If that task never runs (the service stopped
/// first and its pending jobs were dropped), the link is closed when the last reference goes, instead of
/// reaching swift-nio's trap for an unclosed channel.
public final class AcceptedLink: Sendable {
    private let channel: Mutex<PeerChannel?>

    init(_ channel: PeerChannel) { self.channel = Mutex(channel) }

    /// The link, once; the taker must serve it with `executeThenClose`.
    public func take() -> PeerChannel? { channel.withLock { $0.take() } }

    deinit {
        guard let unserved = channel.withLock({ $0.take() }) else { return }
        // Only on shutdown: a deinit cannot await, so the close runs on its own.
        Task { try? await unserved.executeThenClose { _, _ in } }
    }
}
