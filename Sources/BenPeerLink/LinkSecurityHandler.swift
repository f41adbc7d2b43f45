import BenCore
import BenCrypto
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
        stopTimers()
        if !isEstablished && !finished {
            finished = true
            established.fail(LinkRefused(reason: .handshake, detail: "the link closed during its handshake"))
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        stopTimers()
        if !finished && !isEstablished {
            finished = true
            established.fail(LinkRefused(reason: .handshake, detail: "the peer closed the link during its handshake"))
        }
        context.fireChannelInactive()
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
        while let buffer = inbound, let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) {
            guard length <= limit, length >= suite.tagBytes else {
                refuse(context: context, .handshake, "a record of \(length) bytes, over the limit of \(limit)")
                return
            }
            guard buffer.readableBytes >= 4 + Int(length) else { return }
            var whole = buffer
            whole.moveReaderIndex(forwardBy: 4)
            var record = whole.readSlice(length: Int(length))!
            // The rest moves to a buffer of its own, so this record's storage is this slice's alone and opens in
            // place without a copy.
            inbound = whole.readableBytes > 0 ? ByteBuffer(buffer: whole) : nil
            let plain = Int(length) - suite.tagBytes
            let ok = record.withUnsafeMutableReadableBytes { raw in opener!.open(inPlace: raw.baseAddress!, count: plain) }
            guard ok else {
                refuse(context: context, .handshake, "a record did not authenticate (altered, replayed or out of order)")
                return
            }
            context.fireChannelRead(wrapInboundOut(record.getSlice(at: record.readerIndex, length: plain)!))
        }
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
        let total = pending.reduce(0) { $0 + $1.0.readableBytes }
        // One record for the flush (a whole frame, usually), split only past the largest record.
        let most = settings.largestRecord
        var record = context.channel.allocator.buffer(capacity: 4 + min(total, most) + suite.tagBytes)
        var promises: [EventLoopPromise<Void>] = []
        func seal() {
            let plain = record.readableBytes
            guard plain > 0 else { return }
            var out = context.channel.allocator.buffer(capacity: 4 + plain + suite.tagBytes)
            out.writeInteger(UInt32(plain + suite.tagBytes))
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: plain + suite.tagBytes) { target in
                record.withUnsafeReadableBytes { source in sealer!.seal(source.baseAddress!, count: plain, into: target.baseAddress!) }
                return plain + suite.tagBytes
            }
            let written = promises
            promises = []
            if written.isEmpty {
                context.write(wrapOutboundOut(out), promise: nil)
            } else {
                let promise = context.eventLoop.makePromise(of: Void.self)
                for p in written { promise.futureResult.cascade(to: p) }
                context.write(wrapOutboundOut(out), promise: promise)
            }
            record.clear()
        }
        for (var buffer, promise) in pending {
            while buffer.readableBytes > 0 {
                let take = min(buffer.readableBytes, most - record.readableBytes)
                var part = buffer.readSlice(length: take)!
                record.writeBuffer(&part)
                if record.readableBytes == most { seal() }
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

    /// Closes the link with a logged reason; the handshake's promise fails with it if it is still open.
    private func refuse(context: ChannelHandlerContext, _ reason: LinkRefused.Reason, _ detail: String) {
        guard !finished else { return }
        finished = true
        stopTimers()
        let error = LinkRefused(reason: reason, detail: detail)
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
