public import BenCore
public import BenCrypto
public import BenProtocol
public import BenSim
import NIOCore

/// An in-memory fleet for protocol tests: the real `SeederMachine` and `AgentMachine`s on the simulator's network
/// and event queue (`SimNetwork`, the one `ben-sim` runs on), with a virtual clock, deterministic for the same
/// inputs.
///
/// Every link has one fixed latency and every chunk a fixed time on its sender's uplink; faults are injected by
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

    /// The harness's own events; links' events are the network's.
    enum Event {
        case timer(Endpoint, Timer, UInt64)
        case compiled(NodeID, Version)
        case kill(NodeID)
    }

    enum Timer: Hashable {
        case agent(AgentMachine.Timer)
        case seeder(SeederMachine.Timer)
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

    /// Virtual time 0 on the network's clock.
    let start = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
    public var now: Timestamp { start + .nanoseconds(network.now) }
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
    private let network: SimNetwork<Event>
    private let ids: [NodeID]
    private let index: [NodeID: Int]
    private var timers: [Endpoint: [Timer: UInt64]] = [:]
    private let chunkBytes: Int64

    /// - Parameter twoPhase: the announcement says `"activation": "barrier"`: nodes prepare and wait for
    ///   `activate(barrier:)`.
    public init(
        plan: Plan, chunkCount: Int = 12, chunkSize: Int = 4096, faults: Faults = Faults(), timing: Timing = Timing(),
        agentSettings: AgentMachine.Settings = AgentMachine.Settings(), seed: UInt64 = 1, twoPhase: Bool = false
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
        ids = plan.nodes.map(\.id)
        index = plan.indexByNode()
        chunkBytes = Int64(chunkSize)
        // Every uplink sends one chunk per `chunkTransmit`; other frames take no uplink time.
        let rate = Double(chunkSize) / (Double(timing.chunkTransmit.milliseconds) / 1000)
        network = SimNetwork(uplink: [Double](repeating: rate, count: plan.nodes.count + 1))
        let now = start
        announcement = Announcement(
            fleet: plan.fleet, version: plan.version, manifest: manifestKey, manifestSize: Int64(manifest.canonicalBytes.count),
            plan: planKey, topology: plan.topology, issuedAt: now, deadline: now + timing.deadline,
            expires: now + timing.deadline * 10, ledger: "127.0.0.1:7400", twoPhase: twoPhase)
        envelope = ledgerKey.envelope(announcement, context: .announce)
        seeder = SeederMachine(
            plan: plan, planKey: planKey, manifest: manifestKey, chunkKeys: chunkKeys, announcement: envelope.canonicalBytes)
        for node in plan.nodes {
            agents[node.id] = AgentMachine(
                node: node.id, fleet: plan.fleet, record: AgentRecord(active: nil, highestAccepted: .none),
                signer: KeySigner(key: keys[node.id]!), settings: agentSettings)
        }
        network.model = self
        for (node, after) in faults.killAt { network.schedule(.kill(node), at: after.nanosecondsInt64) }
        killed = faults.dead
    }

    // MARK: Running

    /// Publishes the announcement to every live node (as NATS would), starts the seeder, and runs until nothing
    /// is left to do or `limit` of virtual time has passed.
    public func deploy(announceOverNATS: Bool = true, startSeeder: Bool = true, limit: Duration = .seconds(600)) {
        if announceOverNATS {
            for node in ids where !killed.contains(node) {
                apply(agents[node]!.handle(.announcement(incomingAnnouncement(), local: nil), now: now), at: .node(node))
            }
        }
        if startSeeder { apply(seeder.handle(.start, now: now), at: .ledger) }
        run(until: now + limit)
    }

    /// Two-phase: the ledger's signed activation, as NATS would deliver it to `nodes` (every live node by default);
    /// the network then runs until `limit` of virtual time has passed. Returns the activation.
    @discardableResult
    public func activate(barrier: Timestamp, to nodes: [NodeID]? = nil, limit: Duration = .seconds(60)) -> Activation {
        let activation = Activation(fleet: plan.fleet, version: plan.version, manifest: manifestKey, barrier: barrier, issuedAt: now)
        let signed = ledgerKey.envelope(activation, context: .activate)
        let check: SignatureCheck = (try? signed.verify(context: .activate, trusted: TrustedKeys([ledgerKey.publicKey]))) != nil ? .valid : .invalid("bad")
        for node in nodes ?? ids where !killed.contains(node) {
            dispatch(.node(node), agent: .activation(IncomingActivation(activation, signature: check)), seeder: nil)
        }
        run(until: now + limit)
        return activation
    }

    /// Events handled so far (a measure of how much work a run took).
    public private(set) var eventsHandled = 0

    public func run(until end: Timestamp) {
        while let event = network.next(until: (end - start).nanosecondsInt64) {
            eventsHandled += 1
            switch event {
            case .host(let event): handle(event)
            case .delivery(let delivery): handle(delivery)
            }
        }
    }

    func incomingAnnouncement() -> IncomingAnnouncement {
        IncomingAnnouncement(announcement: announcement, envelope: envelope.canonicalBytes, signature: .valid)
    }

    // MARK: Endpoints

    func number(_ endpoint: Endpoint) -> Int {
        switch endpoint {
        case .ledger: ids.count
        case .node(let node): index[node]!
        }
    }

    func endpoint(_ number: Int) -> Endpoint { number == ids.count ? .ledger : .node(ids[number]) }

    func side(_ endpoint: Endpoint, _ link: LinkID) -> SimSide { SimSide(endpoint: number(endpoint), link: link, generation: 0) }

    // MARK: Events into machines

    private func handle(_ event: Event) {
        switch event {
        case .kill(let node):
            guard !killed.contains(node) else { return }
            killed.insert(node)
            network.kill(number(.node(node)))
        case .timer(let endpoint, let timer, let token):
            guard timers[endpoint]?[timer] == token else { return }
            timers[endpoint]![timer] = nil
            switch timer {
            case .agent(let t): dispatch(endpoint, agent: .timer(t), seeder: nil)
            case .seeder(let t): dispatch(endpoint, agent: nil, seeder: .timer(t))
            }
        case .compiled(let node, let version):
            let outcome: CompileOutcome = faults.compileFailure[node].map { .failed($0) } ?? .compiled
            dispatch(.node(node), agent: .compiled(version, outcome), seeder: nil)
        }
    }

    private func handle(_ delivery: SimNetwork<Event>.Delivery) {
        switch delivery {
        case .connected(let side):
            dispatch(endpoint(side.endpoint), agent: .linkConnected(side.link), seeder: .linkConnected(side.link))
        case .failed(let side, let reason):
            guard network.failureReaches(side) else { return }
            dispatch(endpoint(side.endpoint), agent: .linkFailed(side.link, reason: reason), seeder: .linkFailed(side.link, reason: reason))
        case .sent(let side, let index):
            dispatch(endpoint(side.endpoint), agent: .chunkSent(side.link, index: index), seeder: .chunkSent(side.link, index: index))
        case .frame(let to, let frame, let tampered):
            deliver(frame, to: to, tampered: tampered)
        }
    }

    private func dispatch(_ endpoint: Endpoint, agent: AgentMachine.Input?, seeder input: SeederMachine.Input?) {
        switch endpoint {
        case .ledger:
            guard let input else { return }
            apply(seeder.handle(input, now: now), at: .ledger)
        case .node(let node):
            guard let agent, !killed.contains(node), var machine = agents[node] else { return }
            let actions = machine.handle(agent, now: now)
            agents[node] = machine
            apply(actions, at: endpoint)
        }
    }

    private func deliver(_ frame: OutboundFrame, to side: SimSide, tampered: Bool) {
        var isHello = false
        if case .hello = frame { isHello = true }
        let arrival = network.arrival(at: side, isHello: isHello)
        guard arrival != .dropped else { return }
        let link = side.link
        let to = endpoint(side.endpoint)
        switch frame {
        case .hello(let hello):
            if arrival == .introduction {
                let incoming = hello.announcement.isEmpty ? nil : readAnnouncement(hello.announcement)
                dispatch(to, agent: .linkAccepted(link, hello: hello, announcement: incoming, local: nil), seeder: .linkAccepted(link, hello: hello))
            } else {
                dispatch(to, agent: .hello(link, hello), seeder: .hello(link, hello))
            }
        case .plan(let subtree):
            dispatch(to, agent: .plan(link, subtree), seeder: nil)
        case .manifest(let key):
            let actual = tampered ? BLAKE2b.key(of: [1]) : key
            dispatch(to, agent: .manifest(link, tampered ? nil : manifest, actualKey: actual), seeder: nil)
        case .chunk(let index, let key):
            if case .node(let n) = to { chunksReceived[n, default: 0] += 1 }
            let actual = tampered ? BLAKE2b.key(of: [UInt8(index % 256), 0xEE]) : key
            dispatch(to, agent: .chunk(link, index: index, claimedKey: key, actualKey: actual), seeder: nil)
        case .ack(let aggregate):
            dispatch(to, agent: .ack(link, aggregate), seeder: .ack(link, aggregate))
        case .nack(let entries):
            dispatch(to, agent: .nack(link, entries), seeder: .nack(link, entries))
        case .bye(let code, let reason):
            dispatch(to, agent: .bye(link, code, reason: reason), seeder: .bye(link, code, reason: reason))
        }
    }

    func readAnnouncement(_ bytes: [UInt8]) -> IncomingAnnouncement? {
        guard let read = try? SignedEnvelope.decode(bytes, as: Announcement.self) else { return nil }
        let check = SignatureCheck { try read.envelope.verify(context: .announce, trusted: TrustedKeys([ledgerKey.publicKey])) }
        return IncomingAnnouncement(announcement: read.document, envelope: bytes, signature: check)
    }

    // MARK: Actions out of machines

    private func apply(_ actions: [AgentMachine.Action], at endpoint: Endpoint) {
        guard case .node(let n) = endpoint else { return }
        for action in actions {
            switch action {
            case .connect(let link, let peer, _):
                connect(link, to: peer, from: endpoint)
            case .send(let link, let frame):
                network.send(frame, from: side(endpoint, link))
            case .close(let link, let code, let reason):
                network.close(side(endpoint, link), code, reason: reason)
            case .storeChunk, .storeManifest, .discardCompiled:
                break
            case .persist(let record):
                journal[n, default: []].append("persist \(record.highestAccepted) active \(record.active?.version ?? .none)")
            case .compile(let version, _):
                network.schedule(.compiled(n, version), at: network.now + timing.compile.nanosecondsInt64)
            case .activate(let version):
                activated[n] = version
                completedAt[n] = now
                journal[n, default: []].append("activate \(version)")
            case .publishAggregate(let aggregate):
                journal[n, default: []].append("ack")
                publishedOverNATS.append(aggregate)
            case .armTimer(let timer, let at):
                arm(.agent(timer), at: at, on: endpoint)
            case .cancelTimer(let timer):
                timers[endpoint]?[.agent(timer)] = nil
            case .report(let report):
                reports.append((endpoint, report))
            }
        }
    }

    private func apply(_ actions: [SeederMachine.Action], at endpoint: Endpoint) {
        for action in actions {
            switch action {
            case .connect(let link, let peer, _):
                connect(link, to: peer, from: endpoint)
            case .send(let link, let frame):
                network.send(frame, from: side(endpoint, link))
            case .close(let link, let code, let reason):
                network.close(side(endpoint, link), code, reason: reason)
            case .ingest(let aggregate):
                ingested.append(aggregate)
            case .armTimer(let timer, let at):
                arm(.seeder(timer), at: at, on: endpoint)
            case .cancelTimer(let timer):
                timers[endpoint]?[.seeder(timer)] = nil
            case .report(let report):
                reports.append((endpoint, report))
            }
        }
    }

    private func connect(_ link: LinkID, to peer: PlanNode, from endpoint: Endpoint) {
        let target: Endpoint = peer.id == "ledger" ? .ledger : .node(peer.id)
        guard case .node(let n) = target, index[n] == nil else {
            network.connect(side(endpoint, link), to: number(target))
            return
        }
        network.fail(side(endpoint, link), "no such peer", after: timing.latency.nanosecondsInt64)
    }

    private func arm(_ timer: Timer, at: Timestamp, on endpoint: Endpoint) {
        let token = network.nextToken()
        timers[endpoint, default: [:]][timer] = token
        network.schedule(.timer(endpoint, timer, token), at: max(network.now, (at - start).nanosecondsInt64))
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

    /// Tamper reports that reached the ledger, each checked against its victim's key (as the ledger does).
    public var tamperReports: [TamperReport] {
        (ingested + publishedOverNATS).flatMap(\.reports).compactMap { envelope in
            guard let text = envelope.signed["node"]?.stringValue, let node = NodeID(text), let key = nodeKeys[node] else { return nil }
            return try? envelope.open(TamperReport.self, context: .report, trusted: TrustedKeys([key.publicKey]))
        }
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
    public func sign(_ report: TamperReport) -> SignedEnvelope { key.envelope(report, context: .report) }
}

extension FleetHarness: SimNetworkModel {
    public func latency(_ a: Int, _ b: Int) -> (tier: Int, ns: Int64) { (0, timing.latency.nanosecondsInt64) }

    public func wireBytes(_ frame: OutboundFrame) -> Int64 {
        if case .chunk = frame { return chunkBytes }
        return 0
    }

    public func onWire(_ frame: OutboundFrame, from: SimSide, to: SimSide, tier: Int, finish: Int64) -> Bool {
        let sender = endpoint(from.endpoint)
        switch (frame, sender) {
        case (.chunk, .node(let n)):
            chunkFramesSent[n, default: 0] += 1
            return faults.tampering.contains(n)
        case (.chunk, .ledger):
            ledgerChunkFramesSent += 1
            return false
        case (.manifest, .node(let n)):
            return faults.tampering.contains(n)
        case (.ack, .node(let n)):
            journal[n, default: []].append("ack")
            return false
        default:
            return false
        }
    }

    public func gremlinResets(from: Int, to: Int, at finish: Int64) -> Bool { false }

    public func gremlinDelay() -> Int64 { 0 }

    public func refusal(from endpoint: Int, to target: Int, at now: Int64) -> String? {
        guard case .node(let n) = self.endpoint(target) else { return nil }
        return killed.contains(n) || agents[n] == nil ? "connection refused" : nil
    }
}

extension Duration {
    /// Whole nanoseconds (the simulator's clock).
    var nanosecondsInt64: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
