import BenCore
import BenCrypto
import BenPeerLink
import BenProtocol
import BenShell
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Peer links over real TCP with their handshake and records (issue 15): frames move only between proven
/// keys, encrypted; an outsider gets a small budget before it is cut off.
@Suite struct LinkSecurityTests {
    static let fleet = FleetName("demo")!
    static let header = FrameHeader(fleet: fleet, version: 3)
    static let logger = Logger(label: "test")
    static let keys: [NodeID: SigningKey] = ["n1": .generate(), "n2": .generate()]

    /// Node `node`'s settings, knowing every key in `known` (as the ledger knows the topology's).
    static func settings(
        _ node: NodeID, key: SigningKey? = nil, known: [NodeID: SigningKey] = keys, encrypt: Bool = true,
        tune: (inout PeerLinkSettings) -> Void = { _ in }
    ) -> PeerLinkSettings {
        let security = LinkSecurity(fleet: fleet, node: node, key: key ?? keys[node]!, ledgerKeys: TrustedKeys([]), encrypt: encrypt)
        security.know(keys: known.mapValues(\.publicKey))
        // Budgets a machine running every suite at once cannot miss by accident; the tests of budgets set their own.
        var settings = PeerLinkSettings(security: security, handshakeTimeout: .seconds(60), helloTimeout: .seconds(60), connectTimeout: .seconds(30))
        settings.chunkFrames.allow(chunkBytes: 2 << 20)
        tune(&settings)
        return settings
    }

    /// What the server side saw.
    final class Seen: Sendable {
        private let state = Mutex<(frames: [PeerFrame], peers: [NodeID], closed: [String])>(([], [], []))
        func frame(_ f: PeerFrame) { state.withLock { $0.frames.append(f) } }
        func peer(_ n: NodeID) { state.withLock { $0.peers.append(n) } }
        func closed(_ r: String) { state.withLock { $0.closed.append(r) } }
        var frames: [PeerFrame] { state.withLock { $0.frames } }
        var peers: [NodeID] { state.withLock { $0.peers } }
        var closed: [String] { state.withLock { $0.closed } }
    }

    /// Runs `body` against a LinkSet listening as n2 that answers each HELLO with an accepting HELLO and echoes
    /// each chunk back.
    static func withServer(
        _ settings: PeerLinkSettings, _ body: @Sendable (Int, Seen) async throws -> Void
    ) async throws {
        let seen = Seen()
        let server = try await PeerLink.listen(host: "127.0.0.1", port: 0, settings: settings, logger: logger)
        let port = server.channel.localAddress!.port!
        let links = LinkSet(logger: logger)
        let tasks = ShellTasks()
        let handlers = LinkSet.Handlers(
            frame: { link, frame in
                seen.frame(frame)
                switch frame {
                case .hello(let h): links.send(link, .hello(Hello(header: h.header, purpose: .accept, node: "n2")), header: h.header)
                case .chunk(_, let index, let key, _): links.send(link, .chunk(index: Int(index), key: key), header: header)
                default: break
                }
            },
            chunkWritten: { _, _ in }, closed: { _, reason in seen.closed(reason) },
            materialize: { frame, header in
                switch frame {
                case .hello(let h): .hello(h)
                case .chunk(let index, let key): .chunk(header, index: UInt32(index), key: key, bytes: Self.payload)
                default: .nack(header, [])
                }
            },
            authenticated: { _, peer in seen.peer(peer.node) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await tasks.run() }
            group.addTask {
                try await links.accept(
                    on: server, maxInbound: settings.maxInboundLinks, secured: settings.security != nil, spawn: { tasks.spawn($0) }, handlers: handlers, accepted: { _ in })
            }
            try await body(port, seen)
            group.cancelAll()
        }
    }

    static let payload = ByteBuffer(bytes: (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })

    @Test(arguments: [true, false])
    func aChunkCrossesAnAuthenticatedLinkBothWaysIntact(encrypt: Bool) async throws {
        try await Self.withServer(Self.settings("n2", encrypt: encrypt)) { port, seen in
            let (channel, peer) = try await PeerLink.connect(
                host: "127.0.0.1", port: port, target: "n2", settings: Self.settings("n1", encrypt: encrypt), logger: Self.logger)
            #expect(peer?.node == "n2")
            #expect((peer?.suite != LinkCipherSuite.none) == encrypt, "suite \(String(describing: peer?.suite))")
            let key = BLAKE2b.key(of: Array(Self.payload.readableBytesView))
            let echoed = try await channel.executeThenClose { frames, out in
                try await out.write(.hello(Hello(header: Self.header, purpose: .push, node: "n1")))
                try await out.write(.chunk(Self.header, index: 7, key: key, bytes: Self.payload))
                var iterator = frames.makeAsyncIterator()
                _ = try await iterator.next()
                return try await iterator.next()
            }
            guard case .chunk(_, 7, key, let bytes)? = echoed else {
                Issue.record("no chunk came back: \(String(describing: echoed))")
                return
            }
            #expect(bytes == Self.payload, "the chunk came back byte for byte")
            #expect(seen.peers == ["n1"], "the server heard who the client proved to be")
        }
    }

    @Test func aClientThatCannotProveTheKeyOfTheIdItClaimsIsRefused() async throws {
        try await Self.withServer(Self.settings("n2")) { port, seen in
            let impostor = Self.settings("n1", key: .generate())
            await #expect(throws: (any Error).self) {
                _ = try await PeerLink.connect(host: "127.0.0.1", port: port, target: "n2", settings: impostor, logger: Self.logger)
            }
            do {
                _ = try await PeerLink.connect(host: "127.0.0.1", port: port, target: "n2", settings: impostor, logger: Self.logger)
            } catch {
                #expect("\(error)".contains("not the one the topology lists for n1"), "\(error)")
            }
            #expect(seen.frames.isEmpty, "no frame moved")
            #expect(seen.peers.isEmpty)
        }
    }

    @Test func aServerThatIsNotTheNodeDialledIsRefusedBeforeAFrameIsWritten() async throws {
        // Something listens where n2 should be, with a key of its own.
        try await Self.withServer(Self.settings("n2", key: .generate())) { port, seen in
            do {
                _ = try await PeerLink.connect(host: "127.0.0.1", port: port, target: "n2", settings: Self.settings("n1"), logger: Self.logger)
                Issue.record("the client accepted a server that is not n2")
            } catch {
                #expect("\(error)".contains("not who this side dialled"), "\(error)")
            }
            #expect(seen.frames.isEmpty)
        }
    }

    /// An outsider's first bytes are a handshake message: one that claims to be bigger than the budget is cut
    /// off on its length alone, one that never finishes is cut off at the deadline, and neither slows a real
    /// peer that comes after.
    @Test func outsidersGetASmallBudgetBeforeTheyAreCutOff() async throws {
        let settings = Self.settings("n2") { $0.handshakeTimeout = .seconds(1) }
        try await Self.withServer(settings) { port, seen in
            let group = MultiThreadedEventLoopGroup.singleton
            let flooder = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
            var flood = ByteBuffer()
            flood.writeInteger(UInt32(64 << 20))
            flood.writeBytes([UInt8](repeating: 0xAB, count: 1 << 20))
            _ = try? await flooder.writeAndFlush(flood).get()
            try await flooder.closeFuture.get()  // closed by the server, not by this side
            let silent = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
            try await silent.closeFuture.get()
            let (channel, peer) = try await PeerLink.connect(
                host: "127.0.0.1", port: port, target: "n2", settings: Self.settings("n1"), logger: Self.logger)
            #expect(peer?.node == "n2", "a real peer is still served")
            try await channel.executeThenClose { _, _ in }
            #expect(seen.frames.isEmpty)
        }
    }

    @Test func linksBeyondTheInboundLimitAreClosedOnArrival() async throws {
        let settings = Self.settings("n2") {
            $0.maxInboundLinks = 2
            $0.handshakeTimeout = .seconds(60)
        }
        try await Self.withServer(settings) { port, _ in
            let group = MultiThreadedEventLoopGroup.singleton
            var held: [any Channel] = []
            for _ in 0..<2 { held.append(try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()) }
            let third = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
            try await third.closeFuture.get()
            #expect(held.allSatisfy { $0.isActive }, "the links within the limit stay open")
            for channel in held { try await channel.close() }
        }
    }

    @Test func anIdleLinkIsClosed() async throws {
        // 10 s: on a machine running every suite at once, a link's first frame can wait seconds for its task.
        let settings = Self.settings("n2") { $0.idleTimeout = .seconds(10) }
        try await Self.withServer(settings) { port, seen in
            let (channel, _) = try await PeerLink.connect(
                host: "127.0.0.1", port: port, target: "n2", settings: Self.settings("n1"), logger: Self.logger)
            let answered = try await channel.executeThenClose { frames, out in
                try await out.write(.hello(Hello(header: Self.header, purpose: .push, node: "n1")))
                var answered = false
                for try await frame in frames {
                    if case .hello = frame { answered = true }  // the server took the HELLO; then nothing more moves
                }
                return answered
            }
            #expect(answered, "the server answered the HELLO before the link went idle")
            #expect(seen.frames.count == 1, "the HELLO arrived, then nothing; the server closed the link")
        }
    }
}
