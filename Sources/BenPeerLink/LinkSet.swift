public import BenProtocol
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

        public init(
            frame: @escaping @Sendable (LinkID, PeerFrame) async -> Void,
            chunkWritten: @escaping @Sendable (LinkID, Int) async -> Void,
            closed: @escaping @Sendable (LinkID, String) async -> Void,
            materialize: @escaping @Sendable (OutboundFrame, FrameHeader) throws -> PeerFrame
        ) {
            self.frame = frame
            self.chunkWritten = chunkWritten
            self.closed = closed
            self.materialize = materialize
        }
    }

    enum Item: Sendable {
        case frame(OutboundFrame, FrameHeader)
        case close(bye: (ByeCode, String, FrameHeader)?, reason: String)
    }

    private let queues = Mutex<[LinkID: AsyncStream<Item>.Continuation]>([:])
    private let logger: Logger
    private let limiter: UploadLimiter?

    /// - Parameter limiter: caps this process's upload over all its links (none: as fast as the network goes).
    public init(logger: Logger, limiter: UploadLimiter? = nil) {
        self.logger = logger
        self.limiter = limiter
    }

    /// Queues a frame on a link; dropped if the link is gone (the machine hears of that separately).
    public func send(_ link: LinkID, _ frame: OutboundFrame, header: FrameHeader) {
        _ = queues.withLock { $0[link] }?.yield(.frame(frame, header))
    }

    /// Closes a link after whatever is queued, with a BYE first if one is given.
    public func close(_ link: LinkID, bye: (ByeCode, String, FrameHeader)?, reason: String) {
        guard let queue = queues.withLock({ $0[link] }) else { return }
        queue.yield(.close(bye: bye, reason: reason))
        queue.finish()
    }

    public var count: Int { queues.withLock { $0.count } }

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

    /// Forgets a registered link that never got a channel (its connection failed).
    public func unregister(_ link: LinkID) {
        queues.withLock { $0.removeValue(forKey: link) }?.finish()
    }

    /// Runs a registered link until it closes. Call it from a child task; it returns when both directions are
    /// done, after telling `handlers.closed`.
    public func run(_ link: LinkID, registration: Registration, channel: PeerChannel, handlers: Handlers) async {
        let stream = registration.stream
        let continuation = registration.continuation
        let reason: String
        do {
            reason = try await channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: String.self) { group in
                    group.addTask {
                        for try await frame in inbound { await handlers.frame(link, frame) }
                        return "closed by peer"
                    }
                    group.addTask {
                        for await item in stream {
                            switch item {
                            case .frame(let frame, let header):
                                let bytes = try handlers.materialize(frame, header)
                                if let limiter = self.limiter, case .chunk(_, _, _, let payload) = bytes {
                                    await limiter.acquire(payload.readableBytes)
                                }
                                try await outbound.write(bytes)
                                if case .chunk(let index, _) = frame { await handlers.chunkWritten(link, index) }
                            case .close(let bye, let why):
                                if let (code, text, header) = bye { try await outbound.write(.bye(header, code: code, reason: text)) }
                                return why
                            }
                        }
                        return "closed"
                    }
                    // Whichever side ends first ends the link.
                    let first = try await group.next() ?? "closed"
                    group.cancelAll()
                    return first
                }
            }
        } catch {
            reason = "\(error)"
        }
        continuation.finish()
        queues.withLock { _ = $0.removeValue(forKey: link) }
        await handlers.closed(link, reason)
    }
}
