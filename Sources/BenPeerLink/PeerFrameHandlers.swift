public import BenProtocol
public import Logging
public import NIOCore
import Synchronization

/// Turns the byte stream of a peer link into frames, and enforces the link's hygiene: size bounds per frame
/// kind (refused from the length prefix alone), a minimum rate and a deadline while a frame is half-received,
/// and a clean error when the stream ends inside a frame. Every refusal is logged with its reason and closes
/// the link; nothing here can crash the process.
public final class PeerFrameDecoderHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = PeerFrame

    /// Every byte that arrived on the link, whole frames or not: a slow link still moving shows here before its
    /// next frame is complete (`LinkSet.receivedBytes`).
    public let received = ByteCounter()
    private let settings: PeerLinkSettings
    private let logger: Logger
    private var buffer: ByteBuffer?
    private var partialSince: NIODeadline?
    private var bytesThisWindow = 0
    private var check: RepeatedTask?
    private var failed = false

    public init(settings: PeerLinkSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startChecks(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        startChecks(context: context)
        context.fireChannelActive()
    }

    private func startChecks(context: ChannelHandlerContext) {
        guard check == nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        check = context.eventLoop.scheduleRepeatedTask(initialDelay: settings.rateWindow, delay: settings.rateWindow) { _ in
            let (handler, context) = loopBound.value
            handler.checkProgress(context: context)
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var incoming = unwrapInboundIn(data)
        bytesThisWindow += incoming.readableBytes
        received.add(incoming.readableBytes)
        if buffer == nil {
            buffer = incoming
        } else {
            buffer!.writeBuffer(&incoming)
        }
        do {
            while var current = buffer, let frame = try PeerFrameCodec.decode(&current, limits: settings.limits) {
                buffer = current
                partialSince = nil
                context.fireChannelRead(wrapInboundOut(frame))
                if failed { return }
            }
        } catch {
            fail(context: context, .frame(error))
            return
        }
        if let b = buffer, b.readableBytes > 0 {
            if partialSince == nil { partialSince = context.eventLoop.now }
            buffer!.discardReadBytes()
        } else {
            buffer = nil
            partialSince = nil
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
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

    func checkProgress(context: ChannelHandlerContext) {
        defer { bytesThisWindow = 0 }
        guard !failed, let since = partialSince else { return }
        let windowSeconds = max(1, settings.rateWindow.nanoseconds / 1_000_000_000)
        let rate = bytesThisWindow / Int(windowSeconds)
        if rate < settings.minimumRate && context.eventLoop.now - since >= settings.rateWindow {
            fail(context: context, .tooSlow(bytesPerSecond: rate, minimum: settings.minimumRate))
        } else if context.eventLoop.now - since > settings.frameDeadline {
            fail(context: context, .frameDeadline(seconds: settings.frameDeadline.nanoseconds / 1_000_000_000))
        }
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
