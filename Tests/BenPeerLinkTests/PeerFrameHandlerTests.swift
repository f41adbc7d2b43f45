import BenCore
import BenPeerLink
import BenShell
import BenProtocol
import BenTestKit
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

/// The peer link's handlers, first without a network (EmbeddedChannel), then over real TCP.
@Suite struct PeerFrameHandlerTests {
    static let header = FrameHeader(fleet: FleetName("demo")!, version: 3)
    static let logger = Logger(label: "test")
    static let hello = PeerFrame.hello(Hello(header: header, purpose: .push, node: "n1"))

    final class ErrorRecorder: ChannelInboundHandler, @unchecked Sendable {
        // Only touched on the embedded channel's thread.
        typealias InboundIn = PeerFrame
        var frames: [PeerFrame] = []
        var errors: [any Error] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { frames.append(unwrapInboundIn(data)) }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append(error) }
    }

    func channel(_ settings: PeerLinkSettings = .init()) throws -> (EmbeddedChannel, ErrorRecorder) {
        let recorder = ErrorRecorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(PeerFrameDecoderHandler(settings: settings, logger: Self.logger))
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, recorder)
    }

    @Test func framesSplitAnywhereArriveWholeAndInOrder() throws {
        let settings = PeerLinkSettings()
        settings.chunkFrames.allow(chunkBytes: 5000)
        let (channel, recorder) = try channel(settings)
        let frames: [PeerFrame] = [
            Self.hello,
            .plan(Self.header, subtree: Array("{}".utf8)),
            .chunk(Self.header, index: 2, key: Key(digest: [UInt8](repeating: 3, count: 32)), bytes: ByteBuffer(bytes: [UInt8](repeating: 7, count: 5000))),
            .bye(Self.header, code: .done, reason: "done"),
        ]
        var all = ByteBuffer()
        for frame in frames { PeerFrameCodec.encode(frame, into: &all) }
        var generator = SeededGenerator(seed: 5)
        while all.readableBytes > 0 {
            let n = min(all.readableBytes, 1 + Int(generator.next() % 700))
            try channel.writeInbound(all.readSlice(length: n)!)
        }
        #expect(recorder.frames == frames)
        #expect(recorder.errors.isEmpty)
    }

    @Test func aChunkFrameOverTheFleetsChunkSizeClosesTheLinkFromItsPrefix() throws {
        let settings = PeerLinkSettings()
        settings.chunkFrames.allow(chunkBytes: 4096)
        let (channel, recorder) = try channel(settings)
        try channel.writeInbound(PeerFrameCodec.encode(Self.hello))
        var bytes = ByteBuffer()
        bytes.writeInteger(UInt32(4096 + 1024 + 1))
        bytes.writeInteger(PeerFrame.Kind.chunk.rawValue)
        try channel.writeInbound(bytes)
        #expect(!channel.isActive)
        #expect(recorder.errors.contains { "\($0)".contains("over the") })
    }

    @Test func withNoManifestYetNoChunkFrameIsAccepted() throws {
        let (channel, recorder) = try channel()
        try channel.writeInbound(PeerFrameCodec.encode(Self.hello))
        try channel.writeInbound(
            PeerFrameCodec.encode(.chunk(Self.header, index: 0, key: Key(digest: [UInt8](repeating: 1, count: 32)), bytes: ByteBuffer(bytes: [1, 2, 3]))))
        #expect(!channel.isActive)
        #expect(recorder.errors.contains { "\($0)".contains("over the") })
    }

    @Test func theFirstFrameMustBeHello() throws {
        let (channel, recorder) = try channel()
        try channel.writeInbound(PeerFrameCodec.encode(.plan(Self.header, subtree: Array("{}".utf8))))
        #expect(!channel.isActive)
        #expect(recorder.errors.contains { "\($0)".contains("not HELLO") })
    }

    @Test func aLinkThatSendsNoHelloInTimeIsClosed() throws {
        let (channel, recorder) = try channel(.init(handshakeTimeout: .seconds(1), helloTimeout: .seconds(2)))
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
        #expect(recorder.errors.contains { "\($0)".contains("no HELLO within 3 s") })
    }

    @Test func garbageClosesTheLink() throws {
        let (channel, recorder) = try channel()
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 9, 0xEE, 1, 2, 3, 4, 5, 6, 7, 8]))
        #expect(!channel.isActive)
        #expect(recorder.errors.contains { "\($0)".contains("unknown frame kind") })
    }

    @Test func aStreamThatEndsInsideAFrameIsReportedTruncated() throws {
        let (channel, recorder) = try channel()
        let whole = PeerFrameCodec.encode(.manifest(Self.header, bytes: [UInt8](repeating: 1, count: 100)))
        try channel.writeInbound(whole.getSlice(at: 0, length: 40)!)
        channel.pipeline.fireChannelInactive()
        #expect(recorder.errors.contains { "\($0)".contains("ended inside a frame") })
    }

    /// The false alarm the shaped-network benchmark found: a receiver whose sender is held back (a full kernel
    /// queue, a link shaped to a trickle) saw no bytes inside a frame for two seconds and dropped a healthy link.
    /// A slow but moving link is the machines' business (they judge it against the plan), not the decoder's.
    @Test func aFrameTricklingInForMinutesIsNotDropped() throws {
        let (channel, recorder) = try channel()
        try channel.writeInbound(PeerFrameCodec.encode(Self.hello))
        let whole = PeerFrameCodec.encode(.manifest(Self.header, bytes: [UInt8](repeating: 1, count: 600)))
        for offset in 0..<whole.readableBytes {
            try channel.writeInbound(whole.getSlice(at: offset, length: 1)!)
            channel.embeddedEventLoop.advanceTime(by: .seconds(offset % 10 == 0 ? 9 : 0))
        }
        #expect(channel.isActive)
        #expect(recorder.errors.isEmpty)
        #expect(recorder.frames.count == 2)
    }

    @Test func anIdleLinkBetweenFramesStaysOpen() throws {
        let (channel, recorder) = try channel()
        try channel.writeInbound(PeerFrameCodec.encode(Self.hello))
        channel.embeddedEventLoop.advanceTime(by: .seconds(300))
        #expect(channel.isActive)
        #expect(recorder.errors.isEmpty)
    }
}

@Suite struct PeerLinkTCPTests {
    static let header = FrameHeader(fleet: FleetName("demo")!, version: 3)
    /// What these tests check is frames and closes, not budgets: on a machine running every suite at once, the
    /// default 3 s connect and 10 s HELLO were missed by starvation.
    static let patient = PeerLinkSettings(handshakeTimeout: .seconds(60), helloTimeout: .seconds(60), connectTimeout: .seconds(30))

    @Test func framesCrossARealTCPLinkBothWays() async throws {
        let logger = Logger(label: "test")
        let server = try await PeerLink.listen(host: "127.0.0.1", port: 0, settings: Self.patient, logger: logger)
        let port = server.channel.localAddress!.port!
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.executeThenClose { inbound in
                    for try await link in inbound {
                        try await link.executeThenClose { frames, out in
                            for try await frame in frames {
                                #expect(frame.kind == .hello)
                                try await out.write(.hello(Hello(header: frame.header, purpose: .accept, node: "n2")))
                            }
                        }
                        return
                    }
                }
            }
            let (client, _) = try await PeerLink.connect(host: "127.0.0.1", port: port, target: "n2", settings: Self.patient, logger: logger)
            let reply = try await client.executeThenClose { frames, out in
                try await out.write(.hello(Hello(header: Self.header, purpose: .push, node: "n1")))
                var iterator = frames.makeAsyncIterator()
                return try await iterator.next()
            }
            #expect(reply == .hello(Hello(header: Self.header, purpose: .accept, node: "n2")))
            try await group.next()
            group.cancelAll()
        }
    }

    /// Stopping a listener while links it accepted are still queued must close them, not trap: swift-nio
    /// traps when an accepted channel is released unclosed, which is what cancelling a plain loop over the
    /// listener's inbound stream does (apple/swift-nio#2813).
    @Test func cancellingTheAcceptLoopClosesEveryLinkItAcceptedOrQueued() async throws {
        let logger = Logger(label: "test")
        let server = try await PeerLink.listen(host: "127.0.0.1", port: 0, settings: Self.patient, logger: logger)
        let port = server.channel.localAddress!.port!
        let served = ManagedCounter()
        // The first link holds the accept loop until the test opens the gate, so the rest queue up inside the
        // listener's inbound stream: the case that traps when the loop is cancelled.
        let gate = AsyncStream<Void>.makeStream()
        let holding = AsyncStream<Void>.makeStream()
        var clients: [any Channel] = []
        try await withThrowingTaskGroup(of: Void.self) { group in
            let links = ShellTasks()
            group.addTask { await links.run() }
            group.addTask {
                try await PeerLink.acceptLinks(on: server) { link in
                    served.increment()
                    if served.value == 1 {
                        holding.continuation.yield()
                        for await _ in gate.stream {}
                    }
                    links.spawn { try? await link.take()?.executeThenClose { frames, _ in for try await _ in frames {} } }
                }
            }
            for _ in 0..<40 {
                clients.append(try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get())
            }
            group.addTask {
                // A guard against hanging, not a timing assertion: the first link is served within milliseconds.
                try? await Task.sleep(for: .seconds(60))
                holding.continuation.finish()
            }
            // Cancel once the first link holds the loop, with every client connected behind it.
            var held = false
            for await _ in holding.stream {
                held = true
                break
            }
            #expect(held, "the first link reached the accept loop's handler")
            group.cancelAll()
            gate.continuation.finish()
        }
        // Every client sees its link closed by the server, whether it was being served or still queued.
        for client in clients { try await client.closeFuture.get() }
        #expect(served.value == 1, "the links queued behind the first were closed, not served")
        #expect(!server.channel.isActive, "the listening socket is closed")
    }

    @Test func randomBytesAtALiveListenerCloseThatLinkAndTheListenerKeepsServing() async throws {
        let logger = Logger(label: "test")
        let server = try await PeerLink.listen(host: "127.0.0.1", port: 0, settings: Self.patient, logger: logger)
        let port = server.channel.localAddress!.port!
        let closedWithError = ManagedCounter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            let links = ShellTasks()
            group.addTask { await links.run() }
            group.addTask {
                try await PeerLink.acceptLinks(on: server) { link in
                    links.spawn {
                        do {
                            try await link.take()?.executeThenClose { frames, out in
                                for try await frame in frames {
                                    try await out.write(.hello(Hello(header: frame.header, purpose: .accept, node: "n2")))
                                }
                            }
                        } catch {
                            closedWithError.increment()
                        }
                    }
                }
            }
            var generator = SeededGenerator(seed: 99)
            for _ in 0..<20 {
                let garbage = generator.bytes(64 + Int(generator.next() % 512))
                let raw = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
                try await raw.writeAndFlush(ByteBuffer(bytes: garbage)).get()
                try? await raw.closeFuture.get()
            }
            // After all that, a well-behaved peer still gets an answer.
            let (client, _) = try await PeerLink.connect(host: "127.0.0.1", port: port, target: "n2", settings: Self.patient, logger: logger)
            let reply = try await client.executeThenClose { frames, out in
                try await out.write(.hello(Hello(header: Self.header, purpose: .push, node: "n1")))
                var iterator = frames.makeAsyncIterator()
                return try await iterator.next()
            }
            #expect(reply == .hello(Hello(header: Self.header, purpose: .accept, node: "n2")))
            #expect(closedWithError.value >= 15, "links fed garbage end with an error, not a crash")
            group.cancelAll()
        }
    }
}

/// A counter shared with child tasks in a test.
final class ManagedCounter: Sendable {
    private let count = Atomic<Int>(0)
    func increment() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
