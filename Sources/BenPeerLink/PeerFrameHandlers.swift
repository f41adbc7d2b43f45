import BenCore
public import BenProtocol
public import Logging
public import NIOCore
import Synchronization

/// Turns the (authenticated, opened) byte stream of a peer link into frames, and enforces the link's
/// hygiene: the first frame is HELLO and comes within `helloTimeout`, each frame is within its kind's bound
/// (refused from the length prefix alone; a CHUNK within the fleet's chunk size plus a header), and a stream
/// that ends inside a frame is reported as cut. A slow but moving link is not this handler's business: the
/// machines judge progress against the plan. Every refusal is logged with its reason and closes the link.
public final class PeerFrameDecoderHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = PeerFrame

    /// Every byte that arrived on the link, whole frames or not: a slow link still moving shows here before its
    /// next frame is complete (`LinkSet.receivedBytes`).
    public let received = ByteCounter()
    private let settings: PeerLinkSettings
    private let logger: Logger
    private var buffer: ByteBuffer?
    private var helloDeadline: Scheduled<Void>?
    private var sawHello = false
    /// The largest chunk of a manifest that came on this link (its chunks may follow before the shell has read it).
    private var linkChunkBytes = 0
    private var failed = false

    public init(settings: PeerLinkSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startHelloDeadline(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        startHelloDeadline(context: context)
        context.fireChannelActive()
    }

    private func startHelloDeadline(context: ChannelHandlerContext) {
        guard helloDeadline == nil, !sawHello else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let timeout = settings.handshakeTimeout + settings.helloTimeout
        helloDeadline = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = loopBound.value
            if !handler.sawHello { handler.fail(context: context, .helloTimeout(seconds: timeout.nanoseconds / 1_000_000_000)) }
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        helloDeadline?.cancel()
        helloDeadline = nil
    }

    private var limits: PeerFrameCodec.Limits {
        var l = settings.currentLimits
        if linkChunkBytes > 0 { l.maxChunkFrame = max(l.maxChunkFrame, linkChunkBytes + ChunkFrameLimit.header) }
        return l
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var incoming = unwrapInboundIn(data)
        received.add(incoming.readableBytes)
        if buffer == nil {
            buffer = incoming
        } else {
            buffer!.writeBuffer(&incoming)
        }
        sizeForFrame(context: context)
        do {
            while var current = buffer, let frame = try PeerFrameCodec.decode(&current, limits: limits) {
                buffer = current
                if !sawHello {
                    guard frame.kind == .hello else {
                        fail(context: context, .helloFirst(frame.kind))
                        return
                    }
                    sawHello = true
                    helloDeadline?.cancel()
                    helloDeadline = nil
                }
                if case .manifest(_, let bytes) = frame, let manifest = try? Manifest.decode(bytes) {
                    linkChunkBytes = max(linkChunkBytes, Int(manifest.artifacts.map(\.chunkSize).max() ?? 0))
                }
                context.fireChannelRead(wrapInboundOut(frame))
                if failed { return }
            }
        } catch {
            fail(context: context, .frame(error))
            return
        }
        if let b = buffer, b.readableBytes > 0 {
            buffer!.discardReadBytes()
        } else {
            buffer = nil
        }
    }

    /// Gives a frame that is still arriving a buffer of exactly its size (bounded by its kind's limit, which
    /// decode checks first): a chunk kept for forwarding keeps its whole storage alive, so a buffer grown by
    /// doubling would hold up to twice the chunk.
    private func sizeForFrame(context: ChannelHandlerContext) {
        guard let b = buffer, let length = b.getInteger(at: b.readerIndex, as: UInt32.self), let kindByte = b.getInteger(at: b.readerIndex + 4, as: UInt8.self),
            let kind = PeerFrame.Kind(rawValue: kindByte), Int(length) <= limits.limit(for: kind)
        else { return }
        let whole = 4 + Int(length)
        guard b.readableBytes < whole, whole > 65536, b.capacity - b.readerIndex < whole || b.capacity > 2 * whole else { return }
        var exact = context.channel.allocator.buffer(capacity: whole)
        var copy = b
        exact.writeBuffer(&copy)
        buffer = exact
    }

    public func channelInactive(context: ChannelHandlerContext) {
        helloDeadline?.cancel()
        helloDeadline = nil
        reportTruncation(context: context)
        context.fireChannelInactive()
    }

    /// The peer half-closed (links allow it, so a closing side can keep reading): nothing more will come, so a
    /// frame still partly buffered is cut.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            reportTruncation(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func reportTruncation(context: ChannelHandlerContext) {
        guard !failed, let b = buffer, b.readableBytes > 0 else { return }
        failed = true
        let error = PeerLinkError.frame(.truncated(bufferedBytes: b.readableBytes))
        logger.warning("closing peer link", metadata: ["peer.address": "\(context.remoteAddress?.description ?? "?")", "reason": "\(error)"])
        context.fireErrorCaught(error)
    }

    private func fail(context: ChannelHandlerContext, _ error: PeerLinkError) {
        guard !failed else { return }
        failed = true
        buffer = nil
        logger.warning("closing peer link", metadata: ["peer.address": "\(context.remoteAddress?.description ?? "?")", "reason": "\(error)"])
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}

/// Writes frames. Chunk payloads are appended to the frame header without re-encoding.
public final class PeerFrameEncoderHandler: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = PeerFrame
    public typealias OutboundOut = ByteBuffer

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        var buffer = context.channel.allocator.buffer(capacity: 64)
        if case .chunk(let header, let index, let key, let payload) = frame {
            // The prefix, then the chunk's own buffer: written together (writev), never copied into one.
            PeerFrameCodec.encodeChunkPrefix(header, index: index, key: key, payloadLength: payload.readableBytes, into: &buffer)
            context.write(wrapOutboundOut(buffer), promise: nil)
            context.write(wrapOutboundOut(payload), promise: promise)
            return
        }
        PeerFrameCodec.encode(frame, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: promise)
    }
}

/// A count of bytes shared between a channel's event loop and the shell.
public final class ByteCounter: Sendable {
    private let count = Atomic<Int64>(0)

    public init() {}

    public func add(_ n: Int) { count.add(Int64(n), ordering: .relaxed) }

    public var value: Int64 { count.load(ordering: .relaxed) }
}
