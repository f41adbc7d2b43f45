public import BenCore
import BenCrypto
public import BenIntent
import BenNATS
package import BenPeerLink
import BenShell
package import BenProtocol
import BenStore
public import Logging
import NIOCore

/// `ben-agent`'s shell: feeds real IO into the pure `AgentMachine` and carries out what it decides.
///
/// It owns the chunk store, the durable record, the hot-swap holder, the peer links and the NATS connection.
/// Every event goes through this actor, one at a time, so the machine sees a single ordered history. Work that
/// takes time (a connection, a timer, a compile) runs as a child task of `run()` and reports back here.
public actor AgentService {
    public let configuration: AgentConfiguration
    let logger: Logger
    let store: ChunkStore
    /// Frames out of the store, with a cache of the chunks just verified (relays forward them cut-through).
    nonisolated let materializer: FrameMaterializer
    let stateFile: AgentStateFile
    let links: LinkSet
    /// Child tasks, timers, the clock and outbound links (BenShell's runtime, shared with the ledger's shell).
    let runtime: ShellRuntime<AgentMachine.Timer>
    nonisolated var tasks: ShellTasks { runtime.tasks }
    let operations = AgentOperations()  // metrics only (AgentService+Operations.swift)
    var machine: AgentMachine
    /// The intent this node serves: swapped atomically, read without waiting.
    public nonisolated let holder: ActiveIntent
    var compiled: [Version: CompiledIntent] = [:]
    /// Inbound links whose first HELLO has not arrived yet.
    package var unintroduced: Set<LinkID> = []
    /// Who is at the other end of each link, from its HELLO: the sender of the chunks that arrive on it.
    var peerOfLink: [LinkID: NodeID] = [:]
    /// Who each link's handshake proved the far side to be.
    package var provenPeer: [LinkID: LinkPeerInfo] = [:]
    /// Links a parent opened to push, whose PLAN has not been accepted yet: nothing but HELLO and PLAN is taken
    /// from them until it is.
    var awaitingPlan: Set<LinkID> = []
    /// The fleet and version each link was opened for: its frames carry that header, whatever this node works on.
    var headerOfLink: [LinkID: FrameHeader] = [:]
    var nats: NATSConnection?
    /// Messages published before the first NATS connection, sent as soon as there is one.
    var outbox: [(bytes: [UInt8], subject: String)] = []
    /// What this node received for the version it works on: for the activation summary in the log.
    struct Transfer {
        var version: Version
        var acceptedAt: ContinuousClock.Instant
        var firstChunkAt: ContinuousClock.Instant?
        var firstChunkWall: Timestamp?
        /// The largest chunk seen so far and when the first chunk of that size arrived: at activation, the first
        /// full-size chunk (the small intent chunks and the manifest come before it), which the benchmark times.
        var largestChunk = 0
        var firstLargestWall: Timestamp?
        var chunks = 0
        var bytes: Int64 = 0
        var duplicates = 0
        /// Chunk bytes per sender (a node id, or "ledger"): which tier each byte crossed, for the benchmark.
        var bytesFrom: [String: Int64] = [:]
    }

    var transfer: Transfer?
    /// What is left of `configuration.faultDropAcks`.
    var acksToDrop = 0
    /// Alerts the active version's detectors raised here, reported in heartbeats (a rollout's alert gate).
    nonisolated let alerts = AlertCounter()
    nonisolated let heartbeatStream: AsyncStream<Void>
    nonisolated let heartbeatTrigger: AsyncStream<Void>.Continuation
    /// This node's gossip: its shell once the topology is known, and what was last told to it (AgentService+Gossip.swift).
    var gossip = AgentGossip()
    /// The node keys the ledger revoked, and their signed revocations as kept on disk (AgentService+Alarms.swift).
    var revocations = RevocationList()
    var revocationEnvelopes: [SignedEnvelope] = []
    /// The alarms that stopped a version this node may still be offered, as kept on disk (AgentService+Alarms.swift).
    var alarmEnvelopes: [SignedEnvelope] = []

    public init(configuration: AgentConfiguration, logger: Logger) throws {
        var configuration = configuration
        if configuration.peerLink.security == nil {
            configuration.peerLink.security = LinkSecurity(
                fleet: configuration.fleet, node: configuration.node, key: configuration.key, ledgerKeys: configuration.trustedLedgerKeys,
                encrypt: configuration.linkEncryption)
        }
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "ben.node"] = "\(configuration.node)"
        logger[metadataKey: "ben.fleet"] = "\(configuration.fleet)"
        self.logger = logger
        do {
            store = try ChunkStore(root: configuration.stateDirectory + "/store")
            materializer = FrameMaterializer(store: store, signer: configuration.key)
            stateFile = AgentStateFile(directory: configuration.stateDirectory)
            let record = try stateFile.load()
            machine = AgentMachine(
                node: configuration.node, fleet: configuration.fleet, record: record, signer: NodeSigner(key: configuration.key),
                settings: configuration.machine)
        } catch {
            throw AgentError.configuration("\(error)")
        }
        do {
            for (envelope, revocation) in try RevocationFile(stateDirectory: configuration.stateDirectory).load() ?? [] {
                let check = SignatureCheck { try envelope.verify(context: .revoke, trusted: configuration.trustedLedgerKeys) }
                guard revocations.admit(revocation, signature: check, fleet: configuration.fleet, highestEpoch: 0) == .added else { continue }
                revocationEnvelopes.append(envelope)
            }
        } catch {
            throw AgentError.corruptState(path: RevocationFile(stateDirectory: configuration.stateDirectory).path, detail: "\(error)")
        }
        configuration.peerLink.security?.distrust(revocations)
        do {
            // The versions the ledger stopped stay stopped across a restart; nothing is prepared yet, so the machine
            // only notes them.
            for envelope in try AlarmFile(stateDirectory: configuration.stateDirectory).load() ?? [] {
                let alarm = try envelope.document(as: Alarm.self)
                let check = Self.check(envelope, context: .alarm, trusted: configuration.trustedLedgerKeys)
                _ = machine.onAlarm(IncomingAlarm(alarm, signature: check), now: SystemClock.now())
                if machine.stopped.contains(alarm.version) { alarmEnvelopes.append(envelope) }
            }
        } catch {
            throw AgentError.corruptState(path: AlarmFile(stateDirectory: configuration.stateDirectory).path, detail: "\(error)")
        }
        let stopped = machine.stopped.sorted().map(\.description).joined(separator: ",")
        if !stopped.isEmpty {
            logger.notice("versions stopped by the ledger's alarms before this start stay stopped", metadata: ["versions": "\(stopped)"])
        }
        links = LinkSet(
            logger: logger, limiter: configuration.uploadLimit.map { UploadLimiter(bytesPerSecond: $0) }, linger: configuration.peerLink.closeLinger)
        runtime = ShellRuntime(links: links, logger: logger, clockOffset: configuration.clockOffset)
        holder = ActiveIntent()
        acksToDrop = configuration.faultDropAcks
        (heartbeatStream, heartbeatTrigger) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// The version this node serves now.
    public var activeVersion: Version { machine.activeVersion }

    /// This agent's wall clock: the system's, shifted by `configuration.clockOffset` (zero except in tests that
    /// model a node whose clock is wrong). Every timestamp the agent stamps or decides by comes from here.
    nonisolated func now() -> Timestamp { runtime.now() }

    // MARK: Running

    /// Serves the last verified version at once (before reaching anyone), then listens for parents, follows
    /// announcements over NATS and heartbeats, until cancelled.
    public func run() async throws {
        try restoreActive()
        let listener = try await PeerLink.listen(
            host: configuration.listen.host, port: configuration.listen.port, settings: configuration.peerLink, logger: logger)
        logger.info("listening for peer links", metadata: ["listen": "\(configuration.listen)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.tasks.run() }
            group.addTask { try await self.accept(listener, through: self.runtime, settings: self.configuration.peerLink) }
            group.addTask { await self.followControlPlane() }
            group.addTask { await self.runGossip() }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Compiles and serves the version recorded as active, from the local store, before anything else.
    func restoreActive() throws {
        guard let active = machine.record.active else {
            logger.info("no version yet; waiting for an announcement")
            return
        }
        do {
            let intent = try compileBundle(manifest: active.manifest, version: active.version)
            holder.swap(to: intent, version: active.version)
            logger.info("serving the last verified version at once", metadata: ["ben.version": "\(active.version)"])
        } catch {
            logger.error("cannot serve the recorded version from the store", metadata: ["ben.version": "\(active.version)", "error": "\(error)"])
        }
    }

    /// Reads a bundle from the store (every chunk verified), and compiles what this node's roles need.
    nonisolated func compileBundle(manifest key: Key, version: Version) throws -> CompiledIntent {
        guard let manifest = try store.manifest(key) else { throw AgentError.corruptState(path: store.path(of: key), detail: "manifest unreadable") }
        var loaded: [LoadedArtifact] = []
        for artifact in manifest.artifacts where artifact.needed(by: configuration.roles) {
            loaded.append(LoadedArtifact(entry: artifact, bytes: try store.artifactBytes(artifact)))
        }
        return try CompiledIntent.compile(loaded, roles: configuration.roles, label: "\(version) \(key.short)")
    }

    // MARK: Peer links

    package func chunkWritten(_ link: LinkID, _ index: Int) {
        countSent(link, chunk: index)
        handle(.chunkSent(link, index: index))
    }

    package func linkClosed(_ link: LinkID, _ reason: String) {
        unintroduced.remove(link)
        provenPeer.removeValue(forKey: link)
        awaitingPlan.remove(link)
        peerOfLink.removeValue(forKey: link)
        headerOfLink.removeValue(forKey: link)
        handle(.linkFailed(link, reason: reason))
    }

    /// Turns a frame the machine asked for into bytes: chunks and the manifest come from the store, verified
    /// on read.
    package nonisolated func materialize(_ frame: OutboundFrame, header: FrameHeader) throws -> PeerFrame {
        let peerFrame = try materializer.frame(frame, header: header)
        if case .chunk(_, let index, _, let bytes) = peerFrame { operations.materialized(chunk: Int(index), bytes: bytes.readableBytes) }
        return peerFrame
    }
}

extension AgentService: PeerLinkShell {}
