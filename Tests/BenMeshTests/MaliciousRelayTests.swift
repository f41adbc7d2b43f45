import BenCore
import BenCrypto
import BenNATS
import BenPeerLink
import BenShell
import BenProtocol
import BenTestKit
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing

/// A relay that speaks the protocol but serves tampered chunks (a test double in place of one agent): its
/// children refuse every bad chunk, fetch the good one from a backup or the ledger's store, activate, and the
/// ledger's status names the relay.
@Suite(.serialized) struct MaliciousRelayTests {
    @Test func tamperedChunksAreRefusedFetchedElsewhereAndTheLedgerNamesTheBadRelay() async throws {
        let fleet = try await LocalFleet(nodes: 8, rackSize: 4)
        try await fleet.startLedger()
        let repository = ProcessRunner.repositoryRoot()
        let bundle = try TemporaryDirectory()
        _ = try await BundleMaker.bundle(intent: repository + "/examples/intent", folder: bundle.file("bundle"), payloadBytes: 3 << 20, chunkSize: 256 << 10)
        let v1 = try await fleet.stage(bundle.file("bundle"))
        let versions = try JSONParser.parse(try await fleet.benctl(["versions", "--json"]).stdout)
        let size = try #require(versions["versions"]?.arrayValue?.first?["size"]?.intValue)

        // The plan the ledger will make for v1, to pick a relay that has children.
        let planned = try await fleet.benctl(["topology", "plan", fleet.topologyPath, "--seed", "\(v1.rawValue)", "--size", "\(size)", "--json"])
        let plan = try Plan(json: try #require(try JSONParser.parse(planned.stdout)["plan"]))
        var relayIndex: Int?
        for s in 0..<plan.stripeCount {
            let children = plan.children(stripe: s)
            if let i = (0..<plan.nodes.count).first(where: { !children[$0].isEmpty }) {
                relayIndex = i
                break
            }
        }
        let relay = try #require(relayIndex.map { plan.nodes[$0] }, "the plan has a relay")
        let relayKey = try #require(fleet.nodes.first { $0.id == relay.id }?.key)

        let double = try await TamperingRelay.start(
            node: relay, key: relayKey, fleet: fleet.fleet, natsURL: fleet.nats.url, ledgerKey: fleet.ledgerKey.publicKey,
            natsCredentials: fleet.natsCredentials(.node(relay.id)))
        try await fleet.startAgents(fleet.nodes.map(\.id).filter { $0 != relay.id })
        try await fleet.waitUntilReady(fleet.nodes.map(\.id).filter { $0 != relay.id })

        // The double forwards nothing until it holds the whole bundle, so its children recover through the
        // stall check (every 5 s) and its own parent in the other stripe can wait on it; the deadline leaves
        // room for that on a loaded machine. The double never sends its own parent an aggregate (it acks over
        // NATS), so that parent waits for it until its ack deadline, and the rollout ends near this deadline.
        let deploy = try await fleet.benctlInBackground(["deploy", "\(v1.rawValue)", "--wait", "--timeout", "30"])
        let status = try await fleet.status(v1)
        #expect(double.tamperedChunksSent > 0, "the double served tampered chunks to its children: \(double.notes)\n\(fleet.diagnostics())")
        #expect(deploy.status == 0, "every node, the double included, acked: \(deploy.stdout)\n\(double.notes)\n\(fleet.diagnostics())")
        #expect(status.status == "active")
        #expect(status.suspects.map(\.node) == [relay.id], "the ledger names the bad relay")
        for node in fleet.nodes where node.id != relay.id {
            #expect(fleet.agentState(node.id)?.active == v1, "\(node.id) activated with good chunks\n\(fleet.diagnostics())")
        }
        let victims = fleet.nodes.filter { fleet.agentLog($0.id).contains("from \(relay.id) does not match its key") }
        #expect(!victims.isEmpty, "a child saw and refused a tampered chunk")
        await double.stop()
    }
}

/// A node that plays a relay and corrupts every chunk it forwards (keeping the claimed key), so its children
/// must catch it. It accepts the push from its parent, stores what it receives, pushes to its own children from
/// the subtree it was sent, and acks its own version honestly (a liar that looks healthy). It is a compromised
/// member, not an outsider: it holds the node's real key and proves it on every link, as the node would.
final class TamperingRelay: Sendable {
    let node: PlanNode
    let key: SigningKey
    let fleet: FleetName
    let natsURL: String
    /// The NATS credentials of the node the double stands in for (it acks over NATS as that node).
    let natsCredentials: String?
    private let state = Mutex(State())
    private let listener: NIOAsyncChannel<PeerChannel, Never>
    private let settings: PeerLinkSettings
    private let running = Mutex<Task<Void, Never>?>(nil)

    struct State {
        var announcement: [UInt8] = []
        var header: FrameHeader?
        var subtrees: [Subtree] = []
        var manifest: [UInt8] = []
        var chunkKeys: [Key] = []
        var chunks: [Int: [UInt8]] = [:]
        var pushed = false
        var tampered = 0
        var notes: [String] = []
    }

    /// What happened to each push, for a failing expectation.
    var notes: [String] { state.withLock { $0.notes } }

    var tamperedChunksSent: Int { state.withLock { $0.tampered } }

    private init(
        node: PlanNode, key: SigningKey, fleet: FleetName, natsURL: String, natsCredentials: String?, listener: NIOAsyncChannel<PeerChannel, Never>,
        settings: PeerLinkSettings
    ) {
        self.settings = settings
        self.node = node
        self.key = key
        self.fleet = fleet
        self.natsURL = natsURL
        self.natsCredentials = natsCredentials
        self.listener = listener
    }

    static func start(
        node: PlanNode, key: SigningKey, fleet: FleetName, natsURL: String, ledgerKey: PublicKey, natsCredentials: String?
    ) async throws -> TamperingRelay {
        let settings = PeerLinkSettings(security: LinkSecurity(fleet: fleet, node: node.id, key: key, ledgerKeys: TrustedKeys([ledgerKey])))
        settings.chunkFrames.allow(chunkBytes: 1 << 20)
        let listener = try await PeerLink.listen(host: node.address.host, port: node.address.port, settings: settings, logger: Logger(label: "double"))
        let relay = TamperingRelay(
            node: node, key: key, fleet: fleet, natsURL: natsURL, natsCredentials: natsCredentials, listener: listener, settings: settings)
        let task = Task { await relay.serve() }
        relay.running.withLock { $0 = task }
        return relay
    }

    func stop() async {
        let task = running.withLock { $0 }
        task?.cancel()
        await task?.value
    }

    private func serve() async {
        let tasks = ShellTasks()
        await withDiscardingTaskGroup { group in
            group.addTask { await tasks.run() }
            try? await PeerLink.acceptLinks(on: listener) { link in
                tasks.spawn { if let link = link.take() { try? await self.receive(from: link) } }
            }
        }
    }

    /// The parent's push: accept, keep everything, then push tampered chunks to the children.
    private func receive(from link: PeerChannel) async throws {
        try await link.executeThenClose { frames, out in
            for try await frame in frames {
                switch frame {
                case .hello(let hello):
                    state.withLock {
                        $0.notes.append("hello from \(hello.node) at \(Date())")
                        $0.announcement = hello.announcement
                        $0.header = hello.header
                    }
                    try await out.write(.hello(Hello(header: hello.header, purpose: .accept, node: node.id)))
                case .plan(_, let bytes):
                    let subtree = try Subtree.decode(bytes)
                    if let own = subtree.root.assignment { settings.security?.learn(ownAssignment: own) }
                    state.withLock { $0.subtrees.append(subtree) }
                case .manifest(_, let bytes):
                    let manifest = try Manifest.decode(bytes)
                    state.withLock {
                        $0.manifest = bytes
                        $0.chunkKeys = manifest.chunkKeys
                    }
                case .chunk(_, let index, _, var bytes):
                    let data = bytes.readBytes(length: bytes.readableBytes) ?? []
                    let complete = state.withLock { s -> Bool in
                        s.chunks[Int(index)] = data
                        guard !s.pushed, !s.chunkKeys.isEmpty, s.chunks.count == s.chunkKeys.count else { return false }
                        s.pushed = true
                        return true
                    }
                    if complete {
                        state.withLock { $0.notes.append("complete at \(Date())") }
                        try await ackHonestly()
                        state.withLock { $0.notes.append("acked at \(Date())") }
                        try await pushToChildren()
                    }
                default:
                    break
                }
            }
        }
    }

    private func ackHonestly() async throws {
        let (header, manifest) = state.withLock { ($0.header!, $0.manifest) }
        let ack = Ack(
            fleet: fleet, version: header.version, node: node.id, manifest: BLAKE2b.key(of: manifest), status: .active, reason: "",
            at: Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)))
        let aggregate = Aggregate(fleet: fleet, version: header.version, relay: node.id, acks: [key.envelope(ack, context: .ack)], missing: [], orphaned: true)
        var natsSettings = NATSSettings()
        natsSettings.credentialsFile = natsCredentials
        let connection = try await NATSConnection.connect(to: natsURL, settings: natsSettings)
        try await connection.publish(aggregate.canonicalBytes, subject: NATSSubjects.ack(fleet))
        try await connection.flush()
        await connection.close()
    }

    private func pushToChildren() async throws {
        let snapshot = state.withLock { $0 }
        guard let header = snapshot.header else { return }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for subtree in snapshot.subtrees {
                for child in subtree.children(of: 0) {
                    let part = subtree.subtree(at: child)
                    group.addTask {
                        do {
                            try await self.push(part, header: header, snapshot: snapshot)
                        } catch {
                            self.state.withLock { $0.notes.append("push to \(part.root.id): \(error)") }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    private func push(_ subtree: Subtree, header: FrameHeader, snapshot: State) async throws {
        // Like a real relay, retry a child that is not listening yet (on a loaded machine it may still be starting).
        var attempt = 0
        var connected: PeerChannel?
        while connected == nil {
            do {
                connected = try await PeerLink.connect(
                    host: subtree.root.address.host, port: subtree.root.address.port, target: subtree.root.id, expected: subtree.root.assignment,
                    settings: settings, logger: Logger(label: "double")).0
            } catch {
                attempt += 1
                if attempt == 40 { throw error }
                try await Task.sleep(for: .milliseconds(250))  // pacing between attempts, bounded by their count
            }
        }
        guard let channel = connected else { return }
        try await channel.executeThenClose { frames, out in
            try await out.write(.hello(Hello(header: header, purpose: .push, node: node.id, announcement: snapshot.announcement)))
            var iterator = frames.makeAsyncIterator()
            let reply = try await iterator.next()
            guard case .hello? = reply else {
                state.withLock { $0.notes.append("push to \(subtree.root.id) refused: \(String(describing: reply))") }
                return
            }
            try await out.write(.plan(header, subtree: subtree.canonicalBytes))
            try await out.write(.manifest(header, bytes: snapshot.manifest))
            for i in snapshot.chunkKeys.indices where i % subtree.stripeCount == subtree.stripe {
                var bytes = snapshot.chunks[i] ?? []
                if !bytes.isEmpty { bytes[0] ^= 0xFF }
                state.withLock { $0.tampered += 1 }
                try await out.write(.chunk(header, index: UInt32(i), key: snapshot.chunkKeys[i], bytes: ByteBuffer(bytes: bytes)))
            }
            // Hold the link until the child closes it (it will, on the first bad chunk).
            while try await iterator.next() != nil {}
        }
    }
}
