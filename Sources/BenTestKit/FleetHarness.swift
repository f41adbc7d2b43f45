public import BenCore
public import BenCrypto
public import BenProtocol
import NIOCore

/// An in-memory fleet for protocol tests: the real `SeederMachine` and `AgentMachine`s wired through a simulated
/// network with a virtual clock, deterministic for the same inputs.
///
/// Links are FIFO per direction with a fixed latency and a per-chunk transmit time; faults are injected by
/// name (dead nodes, nodes killed at a time, relays that tamper with chunks, compiles that fail). Signatures are
/// real Ed25519 (BenCrypto), so "verified" means verified.
public final class FleetHarness {
    public struct Faults: Sendable {
        /// Nodes that are down from the start: connections to them are refused.
        public var dead: Set<NodeID> = []
        /// Nodes killed (all links reset, no more events) at a time after the start.
        public var killAt: [NodeID: Duration] = [:]
        /// Relays that corrupt every chunk they send.
        public var tampering: Set<NodeID> = []
        /// Nodes whose compile fails with this reason.
        public var compileFailure: [NodeID: String] = [:]

        public init() {}
    }

    public struct Timing: Sendable {
        public var latency: Duration = .milliseconds(2)
        public var chunkTransmit: Duration = .milliseconds(3)
        public var compile: Duration = .milliseconds(5)
        public var deadline: Duration = .seconds(60)

        public init() {}
    }

    public enum Endpoint: Hashable, Comparable, CustomStringConvertible, Sendable {
        case ledger
        case node(NodeID)

        public var description: String {
            switch self {
            case .ledger: "ledger"
            case .node(let n): n.rawValue
            }
        }
    }

    struct Side: Hashable {
        var endpoint: Endpoint
        var link: LinkID
    }

    struct Connection {
        var a: Side
        var b: Side
        var readyAt: [Endpoint: Timestamp] = [:]
        /// Reset (a killed end): nothing more is delivered either way.
        var reset = false
        /// Ends that closed the link: they send and receive nothing more on it.
        var closedBy: Set<Endpoint> = []
        /// The first HELLO on the accepting side is the connector's introduction.
        var acceptedByB = false
    }

    enum Event {
        case connected(Side)
        case failed(Side, String)
        case frame(to: Side, from: Endpoint, OutboundFrame, tampered: Bool)
        case sent(Side, index: Int)
        case timer(Endpoint, TimerID)
        case compiled(NodeID, Version)
        case kill(NodeID)
    }

    public let plan: Plan
    public let planKey: Key
    public let manifest: Manifest
    public let manifestKey: Key
    public let chunkKeys: [Key]
    public let ledgerKey: SigningKey
    public let nodeKeys: [NodeID: SigningKey]
    public let announcement: Announcement
    public let envelope: SignedEnvelope
    public let faults: Faults
    public let timing: Timing

    public private(set) var now: Timestamp
    public private(set) var agents: [NodeID: AgentMachine] = [:]
    public private(set) var seeder: SeederMachine
    /// Aggregates that reached the ledger: over its own links, and over NATS.
    public private(set) var ingested: [Aggregate] = []
    public private(set) var publishedOverNATS: [Aggregate] = []
    public private(set) var reports: [(Endpoint, PeerReport)] = []
    public private(set) var chunksReceived: [NodeID: Int] = [:]
    public private(set) var chunkFramesSent: [NodeID: Int] = [:]
    public private(set) var ledgerChunkFramesSent = 0
    public private(set) var activated: [NodeID: Version] = [:]
    public private(set) var completedAt: [NodeID: Timestamp] = [:]
    /// For each node, the order of durable writes and acks it made: checks "persist before ack".
    public private(set) var journal: [NodeID: [String]] = [:]
    private var killed: Set<NodeID> = []
    private var queue: [(at: Timestamp, seq: Int, event: Event)] = []
    private var sequence = 0
    private var connections: [Int: Connection] = [:]
    private var connectionOf: [Side: Int] = [:]
    private var timers: [Endpoint: [TimerID: Int]] = [:]
    private var nextInbound: UInt64 = 1
    private var nextConnection = 1

    public init(
        plan: Plan, chunkCount: Int = 12, chunkSize: Int = 4096, faults: Faults = Faults(), timing: Timing = Timing(),
        agentSettings: AgentMachine.Settings = AgentMachine.Settings(), seed: UInt64 = 1
    ) {
        var generator = SeededGenerator(seed: seed)
        let chunks = (0..<chunkCount).map { _ in generator.bytes(chunkSize) }
        chunkKeys = chunks.map { BLAKE2b.key(of: $0) }
        let whole = BLAKE2b.key(of: chunks.flatMap { $0 })
        manifest = Manifest(artifacts: [
            .init(
                name: "policy/test", kind: .policyPack, roles: [.proxy], size: Int64(chunkCount * chunkSize),
                chunkSize: Int64(chunkSize), key: whole, chunks: chunkKeys)
        ])
        manifestKey = BLAKE2b.key(of: manifest)
        self.plan = plan
        planKey = BLAKE2b.key(of: plan)
        self.faults = faults
        self.timing = timing
        ledgerKey = SigningKey(seed: generator.bytes(32))!
        var keys: [NodeID: SigningKey] = [:]
        for node in plan.nodes { keys[node.id] = SigningKey(seed: generator.bytes(32))! }
        nodeKeys = keys
        now = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
        announcement = Announcement(
            fleet: plan.fleet, version: plan.version, manifest: manifestKey, manifestSize: Int64(manifest.canonicalBytes.count),
            plan: planKey, topology: plan.topology, issuedAt: now, deadline: now + timing.deadline,
            expires: now + timing.deadline * 10, ledger: "127.0.0.1:7400")
        envelope = ledgerKey.envelope(announcement, context: .announce)
        seeder = SeederMachine(
            plan: plan, planKey: planKey, manifest: manifestKey, chunkKeys: chunkKeys, announcement: envelope.canonicalBytes)
        for node in plan.nodes {
            agents[node.id] = AgentMachine(
                node: node.id, fleet: plan.fleet, record: AgentRecord(active: nil, highestAccepted: .none),
                signer: KeySigner(key: keys[node.id]!), settings: agentSettings)
        }
        for (node, after) in faults.killAt { schedule(.kill(node), at: now + after) }
        killed = faults.dead
    }

    // MARK: Running

    /// Publishes the announcement to every live node (as NATS would), starts the seeder, and runs until nothing
    /// is left to do or `limit` of virtual time has passed.
    public func deploy(announceOverNATS: Bool = true, startSeeder: Bool = true, limit: Duration = .seconds(600)) {
        if announceOverNATS {
            for node in plan.nodes.map(\.id) where !killed.contains(node) {
                apply(agents[node]!.onAnnouncement(incomingAnnouncement(), local: nil, now: now), at: .node(node))
            }
        }
        if startSeeder { apply(seeder.start(), at: .ledger) }
        run(until: now + limit)
    }

    /// Events handled so far (a measure of how much work a run took).
    public private(set) var eventsHandled = 0

    public func run(until end: Timestamp) {
        while let next = popNext(), next.at <= end {
            eventsHandled += 1
            now = max(now, next.at)
            handle(next.event)
        }
    }

    func incomingAnnouncement() -> IncomingAnnouncement {
        IncomingAnnouncement(announcement: announcement, envelope: envelope.canonicalBytes, signature: .valid)
    }

    private func schedule(_ event: Event, at time: Timestamp) {
        sequence += 1
        queue.append((time, sequence, event))
    }

    private func popNext() -> (at: Timestamp, seq: Int, event: Event)? {
        guard !queue.isEmpty else { return nil }
        var best = 0
        for i in queue.indices.dropFirst() where (queue[i].at, queue[i].seq) < (queue[best].at, queue[best].seq) { best = i }
        return queue.remove(at: best)
    }

    // MARK: Events into machines

    private func handle(_ event: Event) {
        switch event {
        case .kill(let node):
            guard !killed.contains(node) else { return }
            killed.insert(node)
            for (id, connection) in connections where !connection.reset && (connection.a.endpoint == .node(node) || connection.b.endpoint == .node(node)) {
                connections[id]!.reset = true
                let other = connection.a.endpoint == .node(node) ? connection.b : connection.a
                schedule(.failed(other, "connection reset by peer"), at: now + timing.latency)
            }
        case .connected(let side):
            dispatch(side.endpoint) { agent in agent.onLinkConnected(side.link, now: now) } ledger: { $0.onLinkConnected(side.link, now: now) }
        case .failed(let side, let reason):
            if let id = connectionOf[side], let connection = connections[id], connection.closedBy.contains(side.endpoint) { return }
            if let id = connectionOf[side] { connections[id]!.closedBy.insert(side.endpoint) }
            dispatch(side.endpoint) { agent in agent.onLinkFailed(side.link, reason: reason, now: now) } ledger: {
                $0.onLinkFailed(side.link, reason: reason, now: now)
            }
        case .sent(let side, let index):
            dispatch(side.endpoint) { agent in agent.onChunkSent(side.link, index: index) } ledger: { $0.onChunkSent(side.link, index: index) }
        case .timer(let endpoint, let timer):
            guard timers[endpoint]?[timer] != nil else { return }
            timers[endpoint]![timer] = nil
            dispatch(endpoint) { agent in agent.onTimer(timer, now: now) } ledger: { $0.onTimer(timer, now: now) }
        case .compiled(let node, let version):
            let outcome: CompileOutcome = faults.compileFailure[node].map { .failed($0) } ?? .compiled
            dispatch(.node(node)) { agent in agent.onCompiled(version, outcome: outcome, now: now) } ledger: { _ in [] }
        case .frame(let to, let from, let frame, let tampered):
            deliver(frame, to: to, from: from, tampered: tampered)
        }
    }

    private func dispatch(_ endpoint: Endpoint, agent body: (inout AgentMachine) -> [PeerAction], ledger: (inout SeederMachine) -> [PeerAction]) {
        switch endpoint {
        case .ledger:
            apply(ledger(&seeder), at: .ledger)
        case .node(let node):
            guard !killed.contains(node), var machine = agents[node] else { return }
            let actions = body(&machine)
            agents[node] = machine
            apply(actions, at: endpoint)
        }
    }

    private func deliver(_ frame: OutboundFrame, to side: Side, from: Endpoint, tampered: Bool) {
        guard let id = connectionOf[side], let connection = connections[id], !connection.reset,
            !connection.closedBy.contains(side.endpoint)
        else { return }
        let link = side.link
        switch frame {
        case .hello(let hello):
            let connection = connections[id]!
            if connection.b == side && !connection.acceptedByB {
                connections[id]!.acceptedByB = true
                let incoming = hello.announcement.isEmpty ? nil : readAnnouncement(hello.announcement)
                dispatch(side.endpoint) { agent in
                    agent.onLinkAccepted(link, hello: hello, announcement: incoming, local: nil, now: now)
                } ledger: { $0.onLinkAccepted(link, hello: hello, now: now) }
            } else {
                dispatch(side.endpoint) { agent in agent.onHello(link, hello: hello, now: now) } ledger: { $0.onHello(link, hello: hello, now: now) }
            }
        case .plan(let subtree):
            dispatch(side.endpoint) { agent in agent.onPlan(link, subtree: subtree, now: now) } ledger: { _ in [] }
        case .manifest(let key):
            let actual = tampered ? BLAKE2b.key(of: [1]) : key
            dispatch(side.endpoint) { agent in agent.onManifest(link, manifest: tampered ? nil : manifest, actualKey: actual, now: now) } ledger: { _ in [] }
        case .chunk(let index, let key):
            if case .node(let n) = side.endpoint { chunksReceived[n, default: 0] += 1 }
            let actual = tampered ? BLAKE2b.key(of: [UInt8(index % 256), 0xEE]) : key
            dispatch(side.endpoint) { agent in agent.onChunk(link, index: index, claimedKey: key, actualKey: actual, now: now) } ledger: { _ in [] }
        case .ack(let aggregate):
            dispatch(side.endpoint) { agent in agent.onAck(link, aggregate: aggregate, now: now) } ledger: { $0.onAck(link, aggregate: aggregate, now: now) }
        case .nack(let entries):
            dispatch(side.endpoint) { agent in agent.onNack(link, entries: entries, now: now) } ledger: { $0.onNack(link, entries: entries, now: now) }
        case .bye(let code, let reason):
            dispatch(side.endpoint) { agent in agent.onBye(link, code: code, reason: reason, now: now) } ledger: {
                $0.onBye(link, code: code, reason: reason, now: now)
            }
        }
    }

    func readAnnouncement(_ bytes: [UInt8]) -> IncomingAnnouncement? {
        guard let envelope = try? SignedEnvelope.decode(bytes, document: "announcement", maxBytes: Announcement.maxBytes),
            let document = try? envelope.document(as: Announcement.self)
        else { return nil }
        let check: SignatureCheck
        do {
            try envelope.verify(context: .announce, trusted: TrustedKeys([ledgerKey.publicKey]))
            check = .valid
        } catch {
            check = .invalid("\(error)")
        }
        return IncomingAnnouncement(announcement: document, envelope: bytes, signature: check)
    }

    // MARK: Actions out of machines

    private func apply(_ actions: [PeerAction], at endpoint: Endpoint) {
        for action in actions { apply(action, at: endpoint) }
    }

    private func apply(_ action: PeerAction, at endpoint: Endpoint) {
        switch action {
        case .connect(let link, let peer, _):
            let target: Endpoint = peer.id == "ledger" ? .ledger : .node(peer.id)
            let side = Side(endpoint: endpoint, link: link)
            if case .node(let n) = target, killed.contains(n) || agents[n] == nil {
                schedule(.failed(side, "connection refused"), at: now + timing.latency)
                return
            }
            let remote = Side(endpoint: target, link: LinkID(inbound: nextInbound))
            nextInbound += 1
            let id = nextConnection
            nextConnection += 1
            connections[id] = Connection(a: side, b: remote)
            connectionOf[side] = id
            connectionOf[remote] = id
            schedule(.connected(side), at: now + timing.latency)
        case .send(let link, let frame):
            let side = Side(endpoint: endpoint, link: link)
            guard let id = connectionOf[side], var connection = connections[id], !connection.reset,
                !connection.closedBy.contains(endpoint)
            else { return }
            let other = connection.a == side ? connection.b : connection.a
            var finish = max(now, connection.readyAt[endpoint] ?? now)
            var tampered = false
            if case .chunk(let index, _) = frame {
                finish = finish + timing.chunkTransmit
                schedule(.sent(side, index: index), at: finish)
                if case .node(let n) = endpoint {
                    chunkFramesSent[n, default: 0] += 1
                    tampered = faults.tampering.contains(n)
                } else {
                    ledgerChunkFramesSent += 1
                }
            }
            if case .manifest = frame, case .node(let n) = endpoint { tampered = faults.tampering.contains(n) }
            if case .ack = frame, case .node(let n) = endpoint { journal[n, default: []].append("ack") }
            connection.readyAt[endpoint] = finish
            connections[id] = connection
            schedule(.frame(to: other, from: endpoint, frame, tampered: tampered), at: finish + timing.latency)
        case .close(let link, let code, let reason):
            let side = Side(endpoint: endpoint, link: link)
            guard let id = connectionOf[side], let connection = connections[id], !connection.reset,
                !connection.closedBy.contains(endpoint)
            else { return }
            let other = connection.a == side ? connection.b : connection.a
            let finish = max(now, connection.readyAt[endpoint] ?? now)
            if let code { schedule(.frame(to: other, from: endpoint, .bye(code, reason), tampered: false), at: finish + timing.latency) }
            connections[id]!.closedBy.insert(endpoint)
            // Like a TCP FIN: the other end sees the link end after everything sent before it.
            schedule(.failed(other, "closed by peer"), at: finish + timing.latency + .milliseconds(1))
        case .storeChunk, .storeManifest:
            break
        case .persist(let record):
            if case .node(let n) = endpoint { journal[n, default: []].append("persist \(record.highestAccepted) active \(record.active?.version ?? .none)") }
        case .compile(let version, _):
            if case .node(let n) = endpoint { schedule(.compiled(n, version), at: now + timing.compile) }
        case .activate(let version):
            if case .node(let n) = endpoint {
                activated[n] = version
                completedAt[n] = now
                journal[n, default: []].append("activate \(version)")
            }
        case .discardCompiled:
            break
        case .publishAggregate(let aggregate):
            if case .node(let n) = endpoint { journal[n, default: []].append("ack") }
            publishedOverNATS.append(aggregate)
        case .ingest(let aggregate):
            ingested.append(aggregate)
        case .armTimer(let timer, let at):
            sequence += 1
            timers[endpoint, default: [:]][timer] = sequence
            schedule(.timer(endpoint, timer), at: at)
        case .cancelTimer(let timer):
            timers[endpoint]?[timer] = nil
        case .report(let report):
            reports.append((endpoint, report))
        }
    }

    // MARK: What the ledger would conclude

    /// Every ack that reached the ledger whose signature verifies against its node's key, by node.
    public var verifiedAcks: [NodeID: Ack] {
        var out: [NodeID: Ack] = [:]
        for aggregate in ingested + publishedOverNATS {
            for envelope in aggregate.acks {
                guard let text = envelope.signed["node"]?.stringValue, let node = NodeID(text), let key = nodeKeys[node],
                    let ack = try? envelope.open(Ack.self, context: .ack, trusted: TrustedKeys([key.publicKey])),
                    ack.version == plan.version, ack.manifest == manifestKey
                else { continue }
                out[node] = ack
            }
        }
        return out
    }

    /// What reached the ledger about nodes it has no ack from, by node (the last reason wins).
    public var missingReasons: [NodeID: MissingReason] {
        var out: [NodeID: MissingReason] = [:]
        for aggregate in ingested + publishedOverNATS {
            for m in aggregate.missing { out[m.node] = m.reason }
        }
        return out
    }

    /// Messages that reached the ledger: aggregates on its own links plus those over NATS.
    public var messagesAtLedger: Int { ingested.count + publishedOverNATS.count }
}

/// Signs acks with a node's key (what ben-agent does too).
public struct KeySigner: AckSigner {
    public let key: SigningKey

    public init(key: SigningKey) {
        self.key = key
    }

    public func sign(_ ack: Ack) -> SignedEnvelope { key.envelope(ack, context: .ack) }
}
