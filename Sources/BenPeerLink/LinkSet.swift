public import BenProtocol
import BenMetrics
public import Logging
public import NIOCore
import Synchronization

/// The open peer links of a shell, each run by one child task: a reader that hands every frame to the shell
/// and a writer that drains the link's own queue.
///
/// The queue holds frames as the machine asked for them (`OutboundFrame`: a chunk is only its number and key),
/// and the writer turns each into bytes only when it is its turn (`materialize` reads the chunk from the
/// store), so a slow link holds a few queued numbers, not megabytes. `send` and `close` never wait, so an actor
/// can call them while it handles an event.
public final class LinkSet: Sendable {
    /// What the shell does with what happens on a link.
    public struct Handlers: Sendable {
        /// A frame arrived.
        public var frame: @Sendable (LinkID, PeerFrame) async -> Void
        /// A CHUNK frame (with this index) was handed to the channel: the next may go.
        public var chunkWritten: @Sendable (LinkID, Int) async -> Void
        /// The link is gone (closed by either side, reset, or refused by a handler); the reason is for logs.
        public var closed: @Sendable (LinkID, String) async -> Void
        /// Turns a frame the machine asked for into the frame to write.
        public var materialize: @Sendable (OutboundFrame, FrameHeader) throws -> PeerFrame
        /// An accepted link finished its handshake: who is on it (before any of its frames).
        public var authenticated: @Sendable (LinkID, LinkPeerInfo) async -> Void

        public init(
            frame: @escaping @Sendable (LinkID, PeerFrame) async -> Void,
            chunkWritten: @escaping @Sendable (LinkID, Int) async -> Void,
            closed: @escaping @Sendable (LinkID, String) async -> Void,
            materialize: @escaping @Sendable (OutboundFrame, FrameHeader) throws -> PeerFrame,
            authenticated: @escaping @Sendable (LinkID, LinkPeerInfo) async -> Void = { _, _ in }
        ) {
            self.frame = frame
            self.chunkWritten = chunkWritten
            self.closed = closed
            self.materialize = materialize
            self.authenticated = authenticated
        }
    }

    enum Item: Sendable {
        case frame(OutboundFrame, FrameHeader)
        case close(bye: (ByeCode, String, FrameHeader)?, reason: String)
    }

    private let queues = Mutex<[LinkID: AsyncStream<Item>.Continuation]>([:])
    private let counters = Mutex<[LinkID: ByteCounter]>([:])
    /// Links a close was asked for: their queued bulk frames are skipped.
    private let closing = Mutex<Set<LinkID>>([])
    /// Links that serve pullers: their chunks wait their turn at `pullGate`.
    private let pullers = Mutex<Set<LinkID>>([])
    private let pullGate = PullGate()
    private let nextInbound = Mutex<UInt64>(1)
    /// Accepted links running now (`maxInboundLinks` caps them).
    private let inboundOpen = Mutex<Int>(0)
    private let logger: Logger
    private let limiter: UploadLimiter?
    private let linger: Duration

    /// - Parameters:
    ///   - limiter: caps this process's upload over all its links (none: as fast as the network goes).
    ///   - linger: how long a closing link waits for the peer to finish its side (`PeerLinkSettings.closeLinger`).
    public init(logger: Logger, limiter: UploadLimiter? = nil, linger: Duration = .seconds(30)) {
        self.logger = logger
        self.limiter = limiter
        self.linger = linger
    }

    /// Queues a frame on a link; dropped if the link is gone (the machine hears of that separately).
    public func send(_ link: LinkID, _ frame: OutboundFrame, header: FrameHeader) {
        _ = queues.withLock { $0[link] }?.yield(.frame(frame, header))
    }

    /// Closes a link after whatever is queued, with a BYE first if one is given. Chunks and manifests still
    /// queued are dropped (whoever closes a link no longer wants to feed it); documents (ACK, PLAN, NACK) go.
    public func close(_ link: LinkID, bye: (ByeCode, String, FrameHeader)?, reason: String) {
        guard let queue = queues.withLock({ $0[link] }) else { return }
        _ = closing.withLock { $0.insert(link) }
        queue.yield(.close(bye: bye, reason: reason))
        queue.finish()
    }

    public var count: Int { queues.withLock { $0.count } }

    /// Marks a link as one that serves a puller: tree links go first (`PullGate`).
    public func servesPuller(_ link: LinkID) {
        _ = pullers.withLock { $0.insert(link) }
    }

    /// Bytes received so far on every running link, partial frames included.
    public func receivedBytes() -> [LinkID: Int64] {
        counters.withLock { $0.mapValues(\.value) }
    }

    /// Makes a link known, so frames can be queued on it before it runs (the machine's first HELLO, say).
    public func register(_ link: LinkID) -> Registration {
        let (stream, continuation) = AsyncStream<Item>.makeStream()
        queues.withLock { $0[link] = continuation }
        return Registration(stream: stream, continuation: continuation)
    }

    public struct Registration: Sendable {
        let stream: AsyncStream<Item>
        let continuation: AsyncStream<Item>.Continuation
    }

    /// Accepts links on `listener` until cancelled and runs each as a job handed to `spawn` (the shell's child
    /// tasks), numbered as an inbound link. A link beyond `maxInbound` open at once is closed on arrival. Each
    /// link's handshake runs first: `handlers.authenticated` hears who is on it before any of its frames, and a
    /// link whose handshake fails is closed with the reason logged, unseen by the shell; `accepted` hears each
    /// link's number after its handshake, before any of its frames.
    public func accept(
        on listener: NIOAsyncChannel<PeerChannel, Never>, maxInbound: Int = 1024, secured: Bool,
        spawn: @escaping @Sendable (@escaping @Sendable () async -> Void) -> Void,
        handlers: Handlers, accepted: @escaping @Sendable (LinkID) async -> Void
    ) async throws {
        try await PeerLink.acceptLinks(on: listener) { incoming in
            let admitted = self.inboundOpen.withLock { open in
                guard open < maxInbound else { return false }
                open += 1
                return true
            }
            guard admitted else {
                self.logger.warning("refusing a peer link", metadata: ["reason": "\(maxInbound) inbound links are open already"])
                Metric.linksRefused.increment(["reason": LinkRefused.Reason.limit.rawValue])
                spawn { if let channel = incoming.take() { try? await channel.executeThenClose { _, _ in } } }
                return
            }
            let link = self.nextInbound.withLock { number in
                defer { number += 1 }
                return LinkID(inbound: number)
            }
            spawn {
                defer { self.inboundOpen.withLock { $0 -= 1 } }
                guard let channel = incoming.take() else { return }
                let info: LinkPeerInfo?
                do {
                    info = try await PeerLink.handshake(of: channel, secured: secured)
                } catch {
                    // Counted and logged by the link's LinkSecurityHandler, which knew the reason.
                    try? await channel.executeThenClose { _, _ in }
                    return
                }
                await accepted(link)
                let registration = self.register(link)
                if let info { await handlers.authenticated(link, info) }
                await self.run(link, registration: registration, channel: channel, handlers: handlers)
            }
        }
    }

    /// Forgets a registered link that never got a channel (its connection failed).
    public func unregister(_ link: LinkID) {
        queues.withLock { $0.removeValue(forKey: link) }?.finish()
    }

    /// Runs a registered link until it closes. Call it from a child task; it returns when both directions are
    /// done, after telling `handlers.closed`.
    ///
    /// Closing never throws away what was written: the side that closes writes its BYE, half-closes (the kernel
    /// sends everything queued, then FIN) and keeps reading until the peer closes too, so frames the peer wrote
    /// before it saw the BYE (an ACK, say) still arrive. A peer that half-closes first gets what is already
    /// queued for it. Either wait is bounded by `linger`, for a peer that is gone without a word.
    public func run(_ link: LinkID, registration: Registration, channel: PeerChannel, handlers: Handlers) async {
        let stream = registration.stream
        let continuation = registration.continuation
        let linger = self.linger
        let reason: String
        let inner = channel.channel
        if let counter = try? await inner.eventLoop.submit({
            try inner.pipeline.syncOperations.handler(type: PeerFrameDecoderHandler.self).received
        }).get() {
            counters.withLock { $0[link] = counter }
        }
        do {
            reason = try await channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: LinkEnd.self) { group in
                    group.addTask {
                        for try await frame in inbound { await handlers.frame(link, frame) }
                        return .peerFinished
                    }
                    group.addTask {
                        for await item in stream {
                            switch item {
                            case .frame(let frame, let header):
                                if frame.isBulk, self.closing.withLock({ $0.contains(link) }) { continue }
                                let bytes = try handlers.materialize(frame, header)
                                if let limiter = self.limiter, case .chunk(_, _, _, let payload) = bytes {
                                    await limiter.acquire(payload.readableBytes)
                                }
                                let gated = frame.isChunk && self.pullers.withLock { $0.contains(link) }
                                if gated {
                                    await self.pullGate.acquire()
                                    do {
                                        try await outbound.write(bytes)
                                    } catch {
                                        self.pullGate.release()
                                        throw error
                                    }
                                    self.pullGate.release()
                                } else {
                                    try await outbound.write(bytes)
                                }
                                if case .chunk(let index, _) = frame { await handlers.chunkWritten(link, index) }
                            case .close(let bye, let why):
                                if let (code, text, header) = bye { try await outbound.write(.bye(header, code: code, reason: text)) }
                                outbound.finish()
                                return .weFinished(why)
                            }
                        }
                        outbound.finish()
                        return .weFinished("closed")
                    }
                    let first = try await group.next() ?? .weFinished("closed")
                    // Nothing new is queued once the peer has finished; what is queued already still goes.
                    if case .peerFinished = first { continuation.finish() }
                    group.addTask {
                        try await Task.sleep(for: linger)
                        return .lingerExpired
                    }
                    let second = try await group.next() ?? .lingerExpired
                    group.cancelAll()
                    switch (first, second) {
                    case (.weFinished(let why), _): return why
                    case (_, .weFinished(let why)) where why != "closed": return "closed by peer; then \(why)"
                    default: return "closed by peer"
                    }
                }
            }
        } catch {
            reason = "\(error)"
        }
        continuation.finish()
        queues.withLock { _ = $0.removeValue(forKey: link) }
        counters.withLock { _ = $0.removeValue(forKey: link) }
        pullers.withLock { _ = $0.remove(link) }
        closing.withLock { _ = $0.remove(link) }
        await handlers.closed(link, reason)
    }

    enum LinkEnd: Sendable {
        /// The peer will send nothing more (it closed, or half-closed).
        case peerFinished
        /// This side sent its last frame (BYE included) and half-closed.
        case weFinished(String)
        case lingerExpired
    }
}
