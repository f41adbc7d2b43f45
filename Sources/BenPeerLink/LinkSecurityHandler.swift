import BenCore
import BenCrypto
import BenMetrics
import BenProtocol
import Logging
public import NIOCore

/// The first handler of every peer link: runs the handshake (`LinkHandshake`), then seals and opens records.
///
/// Until the handshake is done nothing passes up the pipeline and writes wait, so no frame moves before both
/// sides have proven their keys. Before that, the far side gets a small budget: each handshake message at most
/// `LinkHandshake.maxMessageBytes`, all of it within `handshakeTimeout`. After it, each record is one flush's
/// worth of frames (usually one frame: a chunk travels as one record, so the receiver hands it on whole), at most
/// the largest frame the fleet allows, sealed with the session key of its direction (`LinkCipher`). Plain
/// records (suite none) are the frames themselves.
public final class LinkSecurityHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let security: LinkSecurity
    private let settings: PeerLinkSettings
    private let logger: Logger
    /// When dialling: the assignment this side holds for the node it dialled (a child's), if any.
    private let expected: SignedEnvelope?
    private var machine: LinkHandshake
    private var ephemeral: LinkEphemeralKey?
    private var standing: LinkAuthorization.Standing?
    private var suite: LinkCipherSuite?
    private var sealer: LinkCipher?
    private var opener: LinkCipher?
    private var inbound: ByteBuffer?
    private var unsealed: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var flushWanted = false
    private var deadline: Scheduled<Void>?
    private var idleCheck: RepeatedTask?
    private var lastActivity = NIODeadline.now()
    private var finished = false
    private var isEstablished = false
    /// The far side's claim was refused (its key is not the id's), as opposed to a broken handshake.
    private var unauthorized = false
    /// Completed once the handshake is done (or failed with `LinkRefused`).
    public let established: EventLoopPromise<LinkPeerInfo>

    init(
        security: LinkSecurity, role: LinkHandshake.Role, expected: SignedEnvelope?, settings: PeerLinkSettings, eventLoop: any EventLoop,
        logger: Logger
    ) {
        self.security = security
        self.settings = settings
        self.logger = logger
        self.expected = expected
        let ephemeral = LinkEphemeralKey()
        self.ephemeral = ephemeral
        machine = LinkHandshake(identity: security.identity(), role: role, ephemeral: ephemeral.publicKey, crypto: security.crypto)
        established = eventLoop.makePromise()
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { begin(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        begin(context: context)
        context.fireChannelActive()
    }

    private func begin(context: ChannelHandlerContext) {
        guard deadline == nil, !finished else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let timeout = settings.handshakeTimeout
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = loopBound.value
            handler.refuse(context: context, .timeout, "the handshake did not finish within \(timeout.seconds) s")
        }
        perform(machine.handle(.start), context: context)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        closedDuringHandshake("the link closed during its handshake")
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closedDuringHandshake("the peer closed the link during its handshake")
        context.fireChannelInactive()
    }

    /// The link went away: its timers stop, and a handshake still under way is refused with `detail`.
    private func closedDuringHandshake(_ detail: String) {
        stopTimers()
        guard !finished && !isEstablished else { return }
        finished = true
        countRefusal(.handshake)
        established.fail(LinkRefused(reason: .handshake, detail: detail))
    }

    /// Links allow half-closure (a closing side keeps reading), so a peer that gives up during the handshake
    /// shows as the end of its input, not as an inactive channel.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event, !isEstablished {
            refuse(context: context, .handshake, "the peer closed the link during its handshake")
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func stopTimers() {
        deadline?.cancel()
        deadline = nil
        idleCheck?.cancel()
        idleCheck = nil
    }

    // MARK: Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        lastActivity = .now()
        if let suite, suite == .none, inbound == nil {
            context.fireChannelRead(wrapInboundOut(incoming))
            return
        }
        if inbound == nil { inbound = incoming } else { inbound!.writeBuffer(&incoming) }
        if let suite, suite != .none { sizeForRecord(context: context) }
        if suite == nil { readHandshake(context: context) }
        if suite != nil { readRecords(context: context) }
    }

    private func readHandshake(context: ChannelHandlerContext) {
        while suite == nil, !finished, var buffer = inbound, let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) {
            guard length <= LinkHandshake.maxMessageBytes else {
                refuse(context: context, .handshake, "a handshake message of \(length) bytes, over the limit of \(LinkHandshake.maxMessageBytes)")
                return
            }
            guard buffer.readableBytes >= 4 + Int(length) else { return }
            buffer.moveReaderIndex(forwardBy: 4)
            let message = buffer.readBytes(length: Int(length))!
            inbound = buffer.readableBytes > 0 ? buffer : nil
            perform(machine.handle(.received(message)), context: context)
        }
    }

    /// Gives a record that is still arriving a buffer of exactly its size: the record is handed on as a slice,
    /// and a chunk kept for forwarding keeps its whole storage alive, so a buffer grown by doubling would hold
    /// up to twice the chunk.
    private func sizeForRecord(context: ChannelHandlerContext) {
        guard let buffer = inbound, let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return }
        let whole = 4 + Int(length)
        guard buffer.readableBytes < whole, buffer.capacity - buffer.readerIndex < whole || buffer.capacity > 2 * whole + 65536,
            Int(length) <= settings.largestRecord + 16
        else { return }
        var exact = context.channel.allocator.buffer(capacity: whole)
        var copy = buffer
        exact.writeBuffer(&copy)
        inbound = exact
    }

    private func readRecords(context: ChannelHandlerContext) {
        guard let suite, !finished else { return }
        if suite == .none {
            if let rest = inbound {
                inbound = nil
                context.fireChannelRead(wrapInboundOut(rest))
            }
            return
        }
        let limit = settings.largestRecord + suite.tagBytes
        while let (record, length) = nextRecord(limit: limit, context: context) {
            var record = record
            let plain = length - suite.tagBytes
            let ok = record.withUnsafeMutableReadableBytes { raw in opener!.open(inPlace: raw.baseAddress!, count: plain) }
            guard ok else {
                refuse(context: context, .handshake, "a record did not authenticate (altered, replayed or out of order)")
                return
            }
            context.fireChannelRead(wrapInboundOut(record.getSlice(at: record.readerIndex, length: plain)!))
        }
    }

    /// Takes the next whole record out of `inbound`. What follows it moves to a buffer of its own, so the record's
    /// storage belongs to the returned slice alone and opens in place without a copy.
    private func nextRecord(limit: Int, context: ChannelHandlerContext) -> (ByteBuffer, Int)? {
        guard !finished, var buffer = inbound, let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length <= limit, length >= 16 else {
            refuse(context: context, .handshake, "a record of \(length) bytes, over the limit of \(limit)")
            return nil
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        inbound = nil
        buffer.moveReaderIndex(forwardBy: 4)
        let record = buffer.readSlice(length: Int(length))!
        if buffer.readableBytes > 0 {
            var rest = context.channel.allocator.buffer(capacity: buffer.readableBytes)
            rest.writeBuffer(&buffer)
            inbound = rest
            sizeForRecord(context: context)
        }
        return (record, Int(length))
    }

    // MARK: Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        lastActivity = .now()
        if let suite, suite == .none, unsealed.isEmpty {
            context.write(wrapOutboundOut(buffer), promise: promise)
            return
        }
        unsealed.append((buffer, promise))
    }

    public func flush(context: ChannelHandlerContext) {
        guard suite != nil else {
            flushWanted = true
            return
        }
        sealPending(context: context)
        context.flush()
    }

    /// Whatever is written before a close goes first, sealed (a half-close after the last frame, say).
    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if suite != nil && !unsealed.isEmpty {
            sealPending(context: context)
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }

    private func sealPending(context: ChannelHandlerContext) {
        guard let suite, !unsealed.isEmpty else { return }
        let pending = unsealed
        unsealed = []
        if suite == .none {
            for (buffer, promise) in pending { context.write(wrapOutboundOut(buffer), promise: promise) }
            return
        }
        // One record for the flush (a whole frame, usually), split only past the largest record. The plaintext is
        // gathered straight into the record's buffer and sealed in place: one allocation, one copy, one pass.
        let most = settings.largestRecord
        var remaining = pending.reduce(0) { $0 + $1.0.readableBytes }
        var out: ByteBuffer?
        var promises: [EventLoopPromise<Void>] = []
        func seal() {
            guard var record = out, record.readableBytes > 4 else { return }
            let plain = record.readableBytes - 4
            record.setInteger(UInt32(plain + suite.tagBytes), at: record.readerIndex)
            record.writeWithUnsafeMutableBytes(minimumWritableBytes: suite.tagBytes) { _ in suite.tagBytes }
            record.withUnsafeMutableReadableBytes { raw in
                let start = raw.baseAddress! + 4
                sealer!.seal(UnsafeRawPointer(start), count: plain, into: start)
            }
            out = nil
            let written = promises
            promises = []
            if written.isEmpty {
                context.write(wrapOutboundOut(record), promise: nil)
            } else {
                let promise = context.eventLoop.makePromise(of: Void.self)
                for p in written { promise.futureResult.cascade(to: p) }
                context.write(wrapOutboundOut(record), promise: promise)
            }
        }
        for (var buffer, promise) in pending {
            while buffer.readableBytes > 0 {
                if out == nil {
                    out = context.channel.allocator.buffer(capacity: 4 + min(remaining, most) + suite.tagBytes)
                    out!.writeInteger(UInt32(0))
                }
                let take = min(buffer.readableBytes, most - (out!.readableBytes - 4))
                var part = buffer.readSlice(length: take)!
                out!.writeBuffer(&part)
                remaining -= take
                if out!.readableBytes - 4 == most { seal() }
            }
            if let promise { promises.append(promise) }
        }
        seal()
        for p in promises { p.succeed() }
    }

    // MARK: The handshake's actions

    private func perform(_ actions: [LinkHandshake.Action], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let bytes):
                var out = context.channel.allocator.buffer(capacity: 4 + bytes.count)
                out.writeInteger(UInt32(bytes.count))
                out.writeBytes(bytes)
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            case .checkPeer(let claim):
                let refusal: String?
                switch security.decide(claim, expected: machine.role == .server ? nil : expected) {
                case .success(let s):
                    standing = s
                    refusal = nil
                case .failure(let r):
                    unauthorized = true
                    refusal = r.description
                }
                perform(machine.handle(.decided(refusal: refusal)), context: context)
            case .established(let session):
                establish(session, context: context)
            case .fail(let reason):
                refuse(context: context, unauthorized ? .unauthorized : .handshake, reason)
            }
        }
    }

    private func establish(_ session: LinkHandshake.Session, context: ChannelHandlerContext) {
        guard let standing, let chosen = LinkCipherSuite(rawValue: session.suite), let ephemeral else {
            refuse(context: context, .handshake, "the handshake ended without a decision")
            return
        }
        if chosen != .none {
            guard let keys = ephemeral.sessionKeys(asClient: session.isClient, peer: session.peerEphemeral, transcript: session.transcript) else {
                refuse(context: context, .handshake, "the peer's ephemeral key is not a valid X25519 key")
                return
            }
            sealer = LinkCipher(suite: chosen, key: keys.send)
            opener = LinkCipher(suite: chosen, key: keys.receive)
        }
        self.ephemeral = nil
        suite = chosen
        deadline?.cancel()
        deadline = nil
        startIdleCheck(context: context)
        isEstablished = true
        established.succeed(LinkPeerInfo(standing: standing, suite: chosen))
        if flushWanted || !unsealed.isEmpty {
            sealPending(context: context)
            context.flush()
        }
        readRecords(context: context)
    }

    private func startIdleCheck(context: ChannelHandlerContext) {
        let idle = settings.idleTimeout
        let every = TimeAmount.nanoseconds(max(TimeAmount.seconds(1).nanoseconds, min(idle.nanoseconds / 4, TimeAmount.seconds(30).nanoseconds)))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { _ in
            let (handler, context) = loopBound.value
            if NIODeadline.now() - handler.lastActivity > idle {
                handler.refuse(context: context, .idle, "nothing was sent or received for \(idle.seconds) s")
            }
        }
    }

    /// `ben_links_refused_total` counts links this node accepted and then closed, by reason. It is counted here,
    /// where the reason is known: by the time anyone else looks, a refused link's handlers are gone.
    private func countRefusal(_ reason: LinkRefused.Reason) {
        if machine.role == .server { Metric.linksRefused.increment(["reason": reason.rawValue]) }
    }

    /// Closes the link with a logged reason; the handshake's promise fails with it if it is still open.
    private func refuse(context: ChannelHandlerContext, _ reason: LinkRefused.Reason, _ detail: String) {
        guard !finished else { return }
        finished = true
        stopTimers()
        let error = LinkRefused(reason: reason, detail: detail)
        countRefusal(reason)
        logger.warning(
            "closing peer link", metadata: ["peer.address": "\(context.remoteAddress?.description ?? "?")", "reason": "\(detail)"])
        if !isEstablished { established.fail(error) }
        for (_, promise) in unsealed { promise?.fail(error) }
        unsealed = []
        inbound = nil
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}

extension TimeAmount {
    var seconds: Int64 { nanoseconds / 1_000_000_000 }
}
