import BenCore
import BenCrypto
import BenPeerLink
import BenShell
import BenProtocol
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Closing a link never throws away what was written to it (issue 12): the last chunk and the BYE arrive even
/// when the sender closes right after queueing them, its send buffer is small and the receiver is slow.
@Suite struct LinkSetCloseTests {
    static let header = FrameHeader(fleet: FleetName("demo")!, version: 3)
    static let logger = Logger(label: "test")
    static let keys: [NodeID: SigningKey] = ["n1": .generate(), "n2": .generate()]

    /// Settings for node `node`'s side: authenticated, encrypted links (each side knows the other's key, as the
    /// ledger knows the topology's), and chunks up to 1 MiB.
    static func settings(_ node: NodeID) -> PeerLinkSettings {
        let security = LinkSecurity(fleet: header.fleet, node: node, key: keys[node]!, ledgerKeys: TrustedKeys([]))
        security.know(keys: keys.mapValues(\.publicKey))
        // Budgets a machine running every suite at once cannot miss by accident: what is tested is the close.
        let settings = PeerLinkSettings(security: security, handshakeTimeout: .seconds(60), helloTimeout: .seconds(60), connectTimeout: .seconds(30))
        settings.chunkFrames.allow(chunkBytes: 1 << 20)
        return settings
    }

    static let hello = OutboundFrame.hello(Hello(header: header, purpose: .push, node: "n1"))

    /// What a receiving link saw.
    final class Received: Sendable {
        private let state = Mutex<(chunks: [Int: Int], byes: [String], closed: String?)>(([:], [], nil))
        func chunk(_ index: Int, bytes: Int) { state.withLock { $0.chunks[index] = bytes } }
        func bye(_ reason: String) { state.withLock { $0.byes.append(reason) } }
        func close(_ reason: String) { state.withLock { $0.closed = reason } }
        var chunks: [Int: Int] { state.withLock { $0.chunks } }
        var byes: [String] { state.withLock { $0.byes } }
        var closed: String? { state.withLock { $0.closed } }
    }

    static func payload(_ index: Int, size: Int) -> ByteBuffer {
        ByteBuffer(bytes: [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: size))
    }

    static func handlers(received: Received?, chunkSize: Int, slow: Duration = .zero) -> LinkSet.Handlers {
        LinkSet.Handlers(
            frame: { _, frame in
                switch frame {
                case .chunk(_, let index, _, let bytes):
                    received?.chunk(Int(index), bytes: bytes.readableBytes)
                    // A deliberately slow receiver: the situation under test, not a wait for an event.
                    if slow > .zero { try? await Task.sleep(for: slow) }
                case .bye(_, _, let reason):
                    received?.bye(reason)
                default:
                    break
                }
            },
            chunkWritten: { _, _ in },
            closed: { _, reason in received?.close(reason) },
            materialize: { frame, header in
                switch frame {
                case .chunk(let index, let key): .chunk(header, index: UInt32(index), key: key, bytes: payload(index, size: chunkSize))
                case .bye(let code, let reason): .bye(header, code: code, reason: reason)
                case .hello(let hello): .hello(hello)
                default: .nack(header, [])
                }
            })
    }

    /// As the machines do it: the close is asked for when the last chunk has been handed to the link
    /// (`chunkWritten`), with a 4 KiB send buffer and a slow reader, so most of it still waits in the channel.
    @Test(arguments: [(64 << 10, 24), (1 << 20, 6)])
    func aLinkClosedRightAfterItsLastChunkLosesNothing(chunkSize: Int, chunks: Int) async throws {
        let received = Received()
        let server = try await PeerLink.listen(host: "127.0.0.1", port: 0, settings: Self.settings("n2"), logger: Self.logger)
        let port = server.channel.localAddress!.port!
        let receiving = LinkSet(logger: Self.logger)
        let sending = LinkSet(logger: Self.logger, linger: .seconds(20))
        let tasks = ShellTasks()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await tasks.run() }
            group.addTask {
                try await receiving.accept(
                    on: server, secured: true, spawn: { tasks.spawn($0) }, handlers: Self.handlers(received: received, chunkSize: chunkSize, slow: .milliseconds(15)),
                    accepted: { _ in })
            }
            let (channel, peer) = try await PeerLink.connect(
                host: "127.0.0.1", port: port, target: "n2", settings: Self.settings("n1"), logger: Self.logger)
            #expect(peer?.node == "n2" && peer?.suite != LinkCipherSuite.none, "the link is authenticated and encrypted")
            try await channel.channel.setOption(ChannelOptions.socketOption(.so_sndbuf), value: 4096).get()
            let link = LinkID(inbound: 1)
            let registration = sending.register(link)
            let key = Key(digest: [UInt8](repeating: 5, count: 32))
            sending.send(link, Self.hello, header: Self.header)
            for i in 0..<chunks { sending.send(link, .chunk(index: i, key: key), header: Self.header) }
            var handlers = Self.handlers(received: nil, chunkSize: chunkSize)
            handlers.chunkWritten = { link, index in
                if index == chunks - 1 { sending.close(link, bye: (.done, "done", Self.header), reason: "done") }
            }
            await sending.run(link, registration: registration, channel: channel, handlers: handlers)
            // The receiver has everything by the time the sender's link is over.
            let expected = Dictionary(uniqueKeysWithValues: (0..<chunks).map { ($0, chunkSize) })
            #expect(received.chunks == expected, "chunks received whole: \(received.chunks.count) of \(chunks)")
            #expect(received.byes == ["done"], "the BYE arrived after the last chunk")
            group.cancelAll()
        }
    }

    /// The side that finishes first (it half-closes) still gets what was queued for it: ACKs written just
    /// before the other side's BYE are not lost. Chunks queued when the close is asked for are not sent: whoever
    /// closes a link no longer wants to feed it.
    @Test func documentsQueuedAtACloseStillGoAndChunksDoNot() async throws {
        let received = Received()
        let acks = Mutex<Int>(0)
        let server = try await PeerLink.listen(host: "127.0.0.1", port: 0, settings: Self.settings("n2"), logger: Self.logger)
        let port = server.channel.localAddress!.port!
        let tasks = ShellTasks()
        let accepting = LinkSet(logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await tasks.run() }
            // The accepting side answers its peer's first frame with a chunk, two ACKs, another chunk, and closes.
            let aggregate = Aggregate(fleet: Self.header.fleet, version: Self.header.version, relay: "n1", acks: [], missing: [])
            let key = Key(digest: [UInt8](repeating: 5, count: 32))
            let answering = LinkSet.Handlers(
                frame: { link, _ in
                    accepting.send(link, .hello(Hello(header: Self.header, purpose: .accept, node: "n2")), header: Self.header)
                    accepting.send(link, .chunk(index: 0, key: key), header: Self.header)
                    accepting.send(link, .ack(aggregate), header: Self.header)
                    accepting.send(link, .ack(aggregate), header: Self.header)
                    accepting.send(link, .chunk(index: 1, key: key), header: Self.header)
                    accepting.close(link, bye: (.done, "answered", Self.header), reason: "answered")
                },
                chunkWritten: { _, _ in }, closed: { _, _ in },
                materialize: { frame, header in
                    if case .ack(let a) = frame { return .ack(header, aggregate: a.canonicalBytes) }
                    if case .hello(let h) = frame { return .hello(h) }
                    return try Self.handlers(received: nil, chunkSize: 300_000).materialize(frame, header)
                })
            group.addTask { try await accepting.accept(on: server, secured: true, spawn: { tasks.spawn($0) }, handlers: answering, accepted: { _ in }) }
            let opening = LinkSet(logger: Self.logger)
            let (channel, _) = try await PeerLink.connect(
                host: "127.0.0.1", port: port, target: "n2", settings: Self.settings("n1"), logger: Self.logger)
            let link = LinkID(inbound: 9)
            let registration = opening.register(link)
            opening.send(link, Self.hello, header: Self.header)
            opening.close(link, bye: nil, reason: "asked")
            var handlers = Self.handlers(received: received, chunkSize: 300_000)
            let recordChunksAndByes = handlers.frame
            handlers.frame = { link, frame in
                if case .ack = frame { acks.withLock { $0 += 1 } }
                await recordChunksAndByes(link, frame)
            }
            await opening.run(link, registration: registration, channel: channel, handlers: handlers)
            #expect(acks.withLock { $0 } == 2, "both ACKs arrived")
            #expect(received.byes == ["answered"])
            #expect(received.chunks.count <= 1, "chunks still queued at the close are dropped: \(received.chunks.keys.sorted())")
            group.cancelAll()
        }
    }
}
