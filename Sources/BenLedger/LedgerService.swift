import BenCore
import BenCrypto
import BenNATS
package import BenPeerLink
import BenShell
package import BenProtocol
import BenStore
import BenTopology
public import Logging
import Glibc
import NIOCore
import Synchronization

/// `ben-ledger`'s shell: the pure `DeploymentMachine` (versions and the proof of activation) and one
/// `SeederMachine` per rollout (the root of every stripe tree), fed by NATS, peer links, SQLite and the clock.
///
/// Every event goes through this actor in order. Signatures on acks are checked off the actor on every core
/// (`AckVerifier`); slow work (connections, timers, publishing) runs as child tasks of `run()`.
public actor LedgerService {
    public let configuration: LedgerConfiguration
    let logger: Logger
    let database: LedgerDatabase
    let store: ChunkStore
    /// Frames out of the store, with a cache of the chunks just verified (each goes to several first-level nodes).
    nonisolated let materializer: FrameMaterializer
    var machine: DeploymentMachine
    let links: LinkSet
    /// Child tasks, timers, the clock and outbound links (BenShell's runtime, shared with the agent's shell).
    let runtime: ShellRuntime<LedgerTimer>
    nonisolated var tasks: ShellTasks { runtime.tasks }
    let operations = LedgerOperations()  // metrics and the status page only (LedgerService+Operations.swift)
    var nats: NATSConnection?

    /// The topology in force and its key.
    var topology: (topology: Topology, key: Key)?
    /// Each node's key from the topology, for ack verification.
    var nodeKeys: [NodeID: PublicKey] = [:]

    struct Seeding {
        var machine: SeederMachine
        var plan: Plan
        var header: FrameHeader
        var links: Set<LinkID> = []
    }

    /// Rollouts being pushed, by version.
    var seeders: [Version: Seeding] = [:]
    /// Seeders started by this process: each gets its own range of link numbers.
    var seedersStarted: UInt32 = 0
    /// Which rollout each link belongs to.
    var linkVersion: [LinkID: Version] = [:]
    package var unintroduced: Set<LinkID> = []
    /// Who each link's handshake proved the far side to be.
    package var provenPeer: [LinkID: LinkPeerInfo] = [:]
    /// Signed announcement envelopes the ledger published, by version (seeders send them in HELLOs).
    var announcements: [Version: [UInt8]] = [:]
    /// Per version: bytes the ledger sent (trees and pulls), and messages that reached it.
    var egress: [Version: Int64] = [:]
    var messages: [Version: Int] = [:]
    var chunkBytes: [Key: Int64] = [:]
    /// Last heartbeat of each node and when the ledger received it (its own clock), for drift and for planning
    /// around silent nodes.
    var heartbeats: [NodeID: ReceivedHeartbeat] = [:]
    /// The fleet's ledger lease, once won (`LedgerService+Lease.swift`). Behind a lock rather than on the actor,
    /// so renewals never wait for the actor (busy with SQLite or the store) and every path can check it.
    let leaseState = Mutex<HeldLease?>(nil)
    /// Freshness and replays of signed operator requests.
    var requests: OperatorRequestVerifier
    /// Chunk uploads arriving in parts, by key.
    var partialUploads: [Key: [UInt8]] = [:]
    /// Key id of the operator whose request is being handled, for the audit log.
    var currentOperator = "ledger"
    /// The ledger's gossip: its shell, and what membership last said (LedgerService+Gossip.swift).
    var gossip = LedgerGossip()
    /// The node keys this ledger revoked, and the signed revocations it sends (LedgerService+Alarms.swift).
    var revocations = RevocationList()
    var revocationEnvelopes: [String: SignedEnvelope] = [:]

    public init(configuration: LedgerConfiguration, logger: Logger) throws {
        var configuration = configuration
        if configuration.peerLink.security == nil {
            configuration.peerLink.security = LinkSecurity(
                fleet: configuration.fleet, node: .ledger, key: configuration.key, ledgerKeys: TrustedKeys([configuration.key.publicKey]),
                encrypt: configuration.linkEncryption)
        }
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "ben.fleet"] = "\(configuration.fleet)"
        self.logger = logger
        do {
            try FileManagerLite.makeDirectory(configuration.dataDirectory)
            database = try LedgerDatabase(path: configuration.dataDirectory + "/ledger.sqlite")
            store = try ChunkStore(root: configuration.dataDirectory + "/store")
            materializer = FrameMaterializer(store: store)
            machine = DeploymentMachine(fleet: configuration.fleet, versions: try database.loadVersions())
        } catch {
            throw LedgerError.io(path: configuration.dataDirectory, detail: "\(error)")
        }
        links = LinkSet(
            logger: logger, limiter: configuration.uploadLimit.map { UploadLimiter(bytesPerSecond: $0) }, linger: configuration.peerLink.closeLinger)
        runtime = ShellRuntime(links: links, logger: logger)
        requests = OperatorRequestVerifier(fleet: configuration.fleet)
    }

    /// The ledger's clock: what it passes its machines as `now`.
    nonisolated func now() -> Timestamp { runtime.now() }

    // MARK: Running

    /// Restores state, listens for pulls, serves the operator API and the ack and heartbeat subjects over NATS,
    /// and resumes any rollout that was in progress when the ledger stopped, until cancelled.
    ///
    /// It serves only while it holds the fleet's lease: it wins it first (or refuses to start, or with `standby`
    /// waits for it), reads its state only then (a standby may share the data directory of the ledger it
    /// replaces), and throws once it loses it.
    public func run() async throws {
        var settings = NATSSettings()
        settings.name = "ben-ledger \(configuration.fleet)"
        settings.credentialsFile = configuration.natsCredentials
        settings.reconnect.retryInitialConnect = true
        let connection = try await NATSConnection.connect(to: configuration.natsServers, settings: settings, logger: logger)
        let leaseStore: KeyValue
        do {
            leaseStore = try await acquireLease(connection)
        } catch {
            await connection.close()
            throw error
        }
        do {
            try await serve(connection, leaseStore: leaseStore)
        } catch {
            await releaseLease(leaseStore)
            await connection.close()
            throw error
        }
        await releaseLease(leaseStore)
        await connection.close()
    }

    func serve(_ connection: NATSConnection, leaseStore: KeyValue) async throws {
        do {
            machine = DeploymentMachine(fleet: configuration.fleet, versions: try database.loadVersions())
        } catch {
            throw LedgerError.io(path: configuration.dataDirectory, detail: "\(error)")
        }
        try loadTopology()
        loadRevocations()
        let listener = try await PeerLink.listen(
            host: configuration.seedListen.host, port: configuration.seedListen.port, settings: configuration.peerLink, logger: logger)
        logger.info("seed listener up", metadata: ["listen": "\(configuration.seedListen)"])
        nats = connection
        let streamConfig = NATSSubjects.announceStreamConfig(configuration.fleet, replicas: configuration.replicas)
        let kept = try await connection.jetStream().streamInfo(streamConfig.name)?.config.maxMessagesPerSubject
        let stream = try await connection.jetStream().createOrUpdateStream(streamConfig, neverLowerReplicas: true)
        if let kept, kept != stream.config.maxMessagesPerSubject {
            logger.notice(
                "the announcement stream now keeps the latest \(stream.config.maxMessagesPerSubject ?? 0) announcements",
                metadata: ["stream": "\(stream.config.name)", "kept before": "\(kept)"])
        }
        if stream.config.replicas > configuration.replicas {
            logger.notice(
                "the announcement stream keeps more replicas than --replicas; left as it is",
                metadata: ["replicas": "\(stream.config.replicas)", "asked": "\(configuration.replicas)"])
        }
        try await prepareSignedStreams(connection)
        // Subscribed before the head is read, so nothing published on the subject from now on goes unjudged.
        let announced = try await connection.subscribe(subject: NATSSubjects.announce(configuration.fleet))
        try await connection.flush()
        await checkAnnouncementStreamAtStart(connection)
        logger.info(
            "ledger ready",
            metadata: ["nats": "\(connection.connectedURL ?? "?")", "epoch": "\(epoch)", "replicas": "\(stream.config.replicas)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.tasks.run() }
            group.addTask { try await self.keepLease(leaseStore) }
            group.addTask { try await self.accept(listener, through: self.runtime, settings: self.configuration.peerLink) }
            group.addTask { try await self.serveAPI(connection) }
            group.addTask { try await self.followAcks(connection) }
            group.addTask { try await self.followHeartbeats(connection) }
            group.addTask { try await self.followAnnouncements(announced) }
            group.addTask { await self.checkAnnouncementStreamOnReconnect(connection) }
            group.addTask { await self.runGossip() }
            self.announceEpoch()
            self.resume()
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Re-arms deadlines and restarts seeding for rollouts that were in progress at the last stop.
    func resume() {
        let actions = machine.onRestart(now: now())
        if !actions.isEmpty { logger.notice("resuming after a restart", metadata: ["actions": "\(actions.count)"]) }
        for version in machine.versions.keys {
            if let envelope = try? database.setting("announcement.\(version.rawValue)").flatMap(Hex.decode) { announcements[version] = envelope }
        }
        perform(actions)
    }

    /// Loads the topology applied last, from the store.
    func loadTopology() throws {
        guard let keyText = try database.setting("topology"), let key = Key(hex: keyText) else { return }
        let bytes = try store.get(key)
        let topology = try Topology(yaml: String(decoding: bytes, as: UTF8.self), file: "topology \(key.short)")
        install(topology, key: key)
    }

    func install(_ topology: Topology, key: Key) {
        self.topology = (topology, key)
        var keys: [NodeID: PublicKey] = [:]
        for node in topology.nodes {
            if let key = PublicKey(bytes: node.key.bytes) { keys[node.id] = key }
        }
        nodeKeys = keys
        configuration.peerLink.security?.know(keys: keys)
        gossipTopologyChanged(topology)
    }

    // MARK: Peer links (the seeders)

    package nonisolated func materialize(_ frame: OutboundFrame, header: FrameHeader) throws -> PeerFrame {
        try materializer.frame(frame, header: header)
    }
}

extension LedgerService: PeerLinkShell {}

/// Directory creation without Foundation's FileManager in the hot path of start-up.
enum FileManagerLite {
    static func makeDirectory(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw LedgerError.io(path: current, detail: String(cString: strerror(errno)))
            }
        }
    }
}
