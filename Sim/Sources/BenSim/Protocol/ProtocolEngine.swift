public import BenCore
import BenCrypto
public import BenProtocol
import BenTopology
import HeapModule

/// The protocol engine: the real `DeploymentMachine`, `SeederMachine` and one `AgentMachine` per node, wired
/// through a simulated network with a virtual clock, deterministic for a seed (CONVENTIONS habit 7: the
/// simulator is a third shell).
///
/// The network: every endpoint's upload is one FIFO at its uplink (frames leave one after another over all its
/// links), every frame then takes its tier's one-way latency, and each link delivers in order. Announcements
/// and orphans' acks go over "NATS" (the ledger's latency to the node). A seeded gremlin resets links, delays
/// frames and cuts a zone off for a while; relays are killed at random times; some nodes fail to compile or
/// tamper with what they relay. Signatures are real Ed25519, checked by the ledger before the deployment
/// machine sees an ack, exactly as `ben-ledger` does.
///
/// Every event handled is one line of the trace; its BLAKE2b digest identifies a run. The same scenario and
/// seed give the same trace, byte for byte.
public final class ProtocolEngine {
    /// Deliberate breakage, for showing that the invariant checker catches what it should.
    public struct Sabotage: Sendable, Hashable {
        /// The ledger stops checking signatures and counts a forged active ack for this node.
        public var forgedAckFor: NodeID?
        /// The simulated wire hides tampering from the machines: a tampered chunk or manifest reaches the agent
        /// with the key it claims, so a tamperer's children store bytes they believe genuine.
        public var hideTampering: Bool
        /// This node restarts after its last activation from a stale copy of its state directory (the first record
        /// it persisted with an active version), and serves that record's version at once, as ben-agent does on
        /// start.
        public var staleRestoreOf: NodeID?
        /// The ledger's deadline timer is never armed, so a deployment some node never finishes is never decided.
        public var loseLedgerDeadline: Bool
        /// A rollout in waves is seeded and announced to every node at once, while the deployment machine believes
        /// only the first wave was: nodes of later waves activate before any gate passed.
        public var ignoreWaves: Bool

        public init(
            forgedAckFor: NodeID? = nil, hideTampering: Bool = false, staleRestoreOf: NodeID? = nil, loseLedgerDeadline: Bool = false,
            ignoreWaves: Bool = false
        ) {
            self.forgedAckFor = forgedAckFor
            self.hideTampering = hideTampering
            self.staleRestoreOf = staleRestoreOf
            self.loseLedgerDeadline = loseLedgerDeadline
            self.ignoreWaves = ignoreWaves
        }
    }

    typealias Endpoint = Int
    typealias Side = SimSide

    /// The engine's own events; links' events are the network's (`SimNetwork.Delivery`).
    enum Payload {
        case timer(Endpoint, SimTimer, UInt64)
        case compiled(Int, Version)
        case kill(Int)
        case restart(Int)
        case announce(Int, IncomingAnnouncement)
        case answerRequest(Int, Version)
        case natsAggregate(Aggregate)
        case deploy(Int)
        case ledgerDeadline(Version)
        /// The ledger's signed activation reaches a node (two-phase rollouts).
        case activation(Int, IncomingActivation)
        /// The ledger's signed alarm (an aborted rollout) reaches a node.
        case alarm(Int, IncomingAlarm)
        /// A deployment machine timer (a wave's bake).
        case ledgerTimer(DeploymentMachine.Timer)
    }

    /// One deployment's fixed inputs.
    struct Bundle {
        var version: Version
        var plan: Plan
        var planKey: Key
        var manifest: Manifest
        var manifestKey: Key
        var chunkKeys: [Key]
    }

    public let fleet: SimFleet
    public let run: Scenario.ProtocolRun
    public let seed: UInt64
    public let sabotage: Sabotage
    /// The rollout the last deployment follows, and what the engine saw of its waves.
    public let rollout: SimRollout?
    var waves: WaveTruth
    let chunkSize: Int64
    let n: Int
    let nodeIndex: [NodeID: Int]
    let ids: [NodeID]
    let ledgerKey: SigningKey
    let nodeKeys: [PublicKey]
    let agentSettings: AgentMachine.Settings
    /// The sabotaged node's stale state and its signing key (Sabotage.staleRestoreOf).
    var staleRecord: AgentRecord?
    var staleNode: Int?
    var staleSigner: SigningKey?
    let trusted: TrustedKeys
    let base = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)

    var agents: [AgentMachine]
    var deployments: DeploymentMachine
    var seeder: SeederMachine?
    var bundles: [Bundle] = []
    var current = -1
    /// The network and event queue (shared with the test kit's fleet harness).
    let network: SimNetwork<Payload>
    var now: Int64 { network.now }
    var end: Int64 = .max
    var random: SimRandom
    var killed: [Bool]
    var deadAt: [Int64?]
    var timers: [Endpoint: [SimTimer: UInt64]] = [:]
    var seedersStarted: UInt32 = 0
    var announcementCache: [[UInt8]: SignatureCheck] = [:]
    var compileFails: Set<Int> = []
    var tamperers: Set<Int> = []
    var partitionZone: Int32 = -1
    var partitionFrom: Int64 = .max
    var partitionUntil: Int64 = .max

    // Ground truth and what the ledger saw.
    /// Per node, per version: the chunks stored, and whether any stored byte was tampered.
    var stored: [[Version: ChunkSet]]
    var storedTampered: [[Version: Bool]]
    var activations: [[(version: Version, at: Int64)]]
    var persistedActive: [[Version]]
    /// Every ack envelope that reached the ledger, in order, with the aggregate's version.
    public private(set) var envelopesAtLedger: [SignedEnvelope] = []
    public private(set) var messagesAtLedger = 0
    public private(set) var reports: [(String, PeerReport)] = []
    var ledgerReports: [LedgerReport] = []
    var statusLog: [(Version, VersionStatus, Int64)] = []
    var chunkFrames = 0
    var chunkBytes: Int64 = 0
    var duplicateChunks = 0
    var tierBytes = [Int64](repeating: 0, count: 4)
    var ledgerEgress: Int64 = 0
    var tieOrder: [Int] = []

    // The trace.
    var traceHasher: BLAKE2bHasher? = BLAKE2bHasher()
    var traceDigest: Key?
    public private(set) var traceLines = 0
    public var recordTrace = false
    public private(set) var trace: [String] = []
    public private(set) var eventsHandled = 0

    /// - Parameters:
    ///   - fleet: the fleet and its plan (the engine plans each version again with the real planner).
    ///   - chunkSize: bytes per chunk (the scenario's).
    public init(
        fleet: SimFleet, run: Scenario.ProtocolRun, chunkSize: Int64, seed: UInt64, sabotage: Sabotage = Sabotage(), rollout: SimRollout? = nil
    ) throws(SimError) {
        self.fleet = fleet
        self.run = run
        self.seed = seed
        self.sabotage = sabotage
        self.rollout = rollout
        waves = try WaveTruth(rollout, fleet: fleet)
        self.chunkSize = chunkSize
        let plan = fleet.planned.plan
        n = plan.nodes.count
        ids = plan.nodes.map(\.id)
        nodeIndex = plan.indexByNode()
        random = SimRandom(seed: seed, stream: 0x9207)
        var keyRandom = SimRandom(seed: seed, stream: 0x4E75)
        func keySeed() -> [UInt8] { (0..<4).flatMap { _ in withUnsafeBytes(of: keyRandom.next()) { Array($0) } } }
        ledgerKey = SigningKey(seed: keySeed())!
        var signers: [SigningKey] = []
        signers.reserveCapacity(n)
        for _ in 0..<n { signers.append(SigningKey(seed: keySeed())!) }
        nodeKeys = signers.map(\.publicKey)
        trusted = TrustedKeys([ledgerKey.publicKey])
        var settings = AgentMachine.Settings()
        settings.orphanAfter = .seconds(10)
        agentSettings = settings
        agents = (0..<n).map { i in
            AgentMachine(
                node: plan.nodes[i].id, fleet: plan.fleet, record: AgentRecord(active: nil, highestAccepted: .none),
                signer: SimSigner(key: signers[i]), settings: settings)
        }
        deployments = DeploymentMachine(fleet: plan.fleet, settings: DeploymentMachine.Settings())
        network = SimNetwork(uplink: fleet.uplink + [Double](repeating: fleet.ledgerUplink, count: 4))
        killed = [Bool](repeating: false, count: n)
        deadAt = [Int64?](repeating: nil, count: n)
        stored = [[Version: ChunkSet]](repeating: [:], count: n)
        storedTampered = [[Version: Bool]](repeating: [:], count: n)
        activations = [[(version: Version, at: Int64)]](repeating: [], count: n)
        persistedActive = [[Version]](repeating: [], count: n)
        if let node = sabotage.staleRestoreOf {
            guard let i = nodeIndex[node] else {
                throw SimError(.invalidValue, field: "sabotage.stale_restore_of", problem: "no node '\(node)' in the plan", fix: "name a planned node")
            }
            staleNode = i
            staleSigner = signers[i]
        }
        for name in run.compileFailures {
            guard let id = NodeID(name), let i = nodeIndex[id] else {
                throw SimError(.invalidValue, field: "protocol.compile_failures", problem: "no node '\(name)' in the plan", fix: "name a planned node")
            }
            compileFails.insert(i)
        }
        for name in run.tampering {
            guard let id = NodeID(name), let i = nodeIndex[id] else {
                throw SimError(.invalidValue, field: "protocol.tampering", problem: "no node '\(name)' in the plan", fix: "name a planned node")
            }
            tamperers.insert(i)
        }
        if let partition = run.partition {
            guard let z = fleet.zoneIndex(partition.zone) else {
                throw SimError(.invalidValue, field: "protocol.gremlin.partition.zone", problem: "no zone '\(partition.zone)'", fix: "write REGION/ZONE as the topology names them")
            }
            partitionZone = Int32(z)
            partitionFrom = Self.ns(partition.from)
            partitionUntil = Self.ns(partition.until)
        }
        network.model = self
    }

    static func ns(_ seconds: Double) -> Int64 { Int64((seconds * 1e9).rounded()) }

    var ledgerEndpoint: Endpoint { n + max(0, current) }
    func isLedger(_ e: Endpoint) -> Bool { e >= n }

    func timestamp(_ t: Int64) -> Timestamp { Timestamp(millisecondsSinceEpoch: base.millisecondsSinceEpoch + t / 1_000_000) }
    func engineTime(_ t: Timestamp) -> Int64 { (t.millisecondsSinceEpoch - base.millisecondsSinceEpoch) * 1_000_000 }

    func name(_ e: Endpoint) -> String { isLedger(e) ? "ledger" : ids[e].rawValue }

    func zone(of e: Endpoint) -> Int32 { isLedger(e) ? Int32(fleet.topology.ledger.zone) : fleet.zone[e] }

    func partitioned(_ a: Endpoint, _ b: Endpoint, at t: Int64) -> Bool {
        guard partitionZone >= 0, t >= partitionFrom, t < partitionUntil else { return false }
        return (zone(of: a) == partitionZone) != (zone(of: b) == partitionZone)
    }

    func link(_ a: Endpoint, _ b: Endpoint) -> (tier: Tier, latency: Int64) {
        let ra: Int32 = isLedger(a) ? -1 : fleet.rack[a]
        let rb: Int32 = isLedger(b) ? -1 : fleet.rack[b]
        let za = zone(of: a)
        let zb = zone(of: b)
        let ga: Int32 = isLedger(a) ? Int32(fleet.topology.ledger.region) : fleet.region[a]
        let gb: Int32 = isLedger(b) ? Int32(fleet.topology.ledger.region) : fleet.region[b]
        let (tier, _, latency) = fleet.link(fromRack: ra, zone: za, region: ga, toRack: rb, zone: zb, region: gb)
        return (tier, max(1, Self.ns(latency)))
    }

    // MARK: Trace

    func note(_ line: @autoclosure () -> String) {
        let text = "\(now) \(line())\n"
        traceHasher?.update(Array(text.utf8))
        traceLines += 1
        if recordTrace { trace.append(text) }
    }

    // MARK: Running

    /// Runs every deployment to its end (active, or incomplete at its deadline), then a little longer.
    public func runAll() throws(SimError) -> ProtocolOutcome {
        for version in 1...run.deployments { bundles.append(try makeBundle(version: UInt64(version))) }
        // Relays to kill: a fraction of the nodes with children in the first plan, at random times.
        var relays: [Int32] = []
        var isRelay = [Bool](repeating: false, count: n)
        for stripe in bundles[0].plan.stripes { for p in stripe where p >= 0 { isRelay[Int(p)] = true } }
        for i in 0..<n where isRelay[i] { relays.append(Int32(i)) }
        let kills = random.sample(relays, Int((run.relayFailures * Double(relays.count)).rounded()))
        for v in kills.sorted() {
            let at = Self.ns(run.killWindow.lowerBound + random.unit() * (run.killWindow.upperBound - run.killWindow.lowerBound))
            deadAt[Int(v)] = at
            schedule(.kill(Int(v)), at: at)
        }
        schedule(.deploy(0), at: 0)
        while let event = network.next(until: end) {
            eventsHandled += 1
            switch event {
            case .host(let payload): handle(payload)
            case .delivery(let delivery): handle(delivery)
            }
        }
        return outcome()
    }

    func makeBundle(version: UInt64) throws(SimError) -> Bundle {
        var planned: PlannedDeployment
        do {
            let key = Key(digest: [UInt8](repeating: UInt8(truncatingIfNeeded: version), count: 32))
            planned = try Planner().plan(fleet.topology, Deployment(version: Version(version), topologyKey: key, seed: seed &+ version, bundleSize: Int64(run.chunks) * chunkSize))
        } catch {
            throw SimError(.planning, field: "topology", problem: "the planner cannot plan v\(version): \(error)", fix: "check the topology")
        }
        // The protocol engine runs over the fleet's plan nodes; a replan must keep them (it does for one topology).
        guard planned.plan.nodes.map(\.id) == ids else {
            throw SimError(.planning, field: "topology", problem: "the plan for v\(version) targets other nodes than v1's", fix: "use a topology without maintenance changes")
        }
        let plan = planned.plan
        let chunkKeys = (0..<run.chunks).map { i in
            Key(digest: (0..<4).flatMap { w in withUnsafeBytes(of: PlanHash.mix(seed, version, UInt64(i * 4 + w))) { Array($0) } })
        }
        let whole = Key(digest: (0..<4).flatMap { w in withUnsafeBytes(of: PlanHash.mix(seed, version &+ 1000, UInt64(w))) { Array($0) } })
        let manifest = Manifest(artifacts: [
            .init(
                name: "policy/sim", kind: .policyPack, roles: Role.allCases, size: Int64(run.chunks) * chunkSize, chunkSize: chunkSize, key: whole,
                chunks: chunkKeys)
        ])
        return Bundle(version: Version(version), plan: plan, planKey: BLAKE2b.key(of: plan), manifest: manifest, manifestKey: BLAKE2b.key(of: manifest), chunkKeys: chunkKeys)
    }

    func schedule(_ payload: Payload, at time: Int64) {
        network.schedule(payload, at: time)
    }

    // MARK: Events

    func handle(_ payload: Payload) {
        switch payload {
        case .deploy(let index):
            startDeployment(index)
        case .ledgerDeadline(let version):
            note("ledger deadline \(version)")
            applyLedger(deployments.onDeadline(version, now: timestamp(now)))
        case .activation, .alarm, .ledgerTimer:
            handleRollout(payload)
        case .kill(let v):
            guard !killed[v] else { return }
            note("kill \(ids[v])")
            killed[v] = true
            network.kill(v)
        case .restart(let v):
            guard !killed[v], let stale = staleRecord else { return }
            // Sabotage: the state directory comes back from an old copy; the new process trusts what it finds.
            note("sabotage: \(ids[v]) restarts from a stale copy of its state (active \(stale.active?.version ?? .none))")
            agents[v] = AgentMachine(node: ids[v], fleet: fleet.planned.plan.fleet, record: stale, signer: SimSigner(key: staleSigner!), settings: agentSettings)
            if let served = stale.active?.version {
                activations[v].append((served, now))
                persistedActive[v].append(served)
            }
        case .announce(let v, let incoming):
            guard !killed[v] else { return }
            note("\(ids[v]) announcement \(incoming.announcement.version)")
            apply(agents[v].onAnnouncement(incoming, local: nil, now: timestamp(now)), at: v)
        case .answerRequest(let v, let version):
            guard !killed[v] else { return }
            note("\(ids[v]) asked for its answer to \(version)")
            apply(agents[v].onAnswerRequested(version, now: timestamp(now)), at: v)
        case .natsAggregate(let aggregate):
            note("ledger nats aggregate from \(aggregate.relay) (\(aggregate.acks.count) acks, \(aggregate.missing.count) missing)")
            ingest(aggregate)
        case .timer(let endpoint, let timer, let token):
            guard timers[endpoint]?[timer] == token else { return }
            timers[endpoint]![timer] = nil
            note("\(name(endpoint)) timer \(timer)")
            switch timer {
            case .seeder(let timer):
                guard isLedger(endpoint), var s = seeder else { return }
                let actions = s.handle(.timer(timer), now: timestamp(now))
                seeder = s
                apply(actions, at: endpoint)
            case .agent(let timer):
                guard !isLedger(endpoint), !killed[endpoint] else { return }
                apply(agents[endpoint].handle(.timer(timer), now: timestamp(now)), at: endpoint)
            }
        case .compiled(let v, let version):
            guard !killed[v] else { return }
            let failing = compileFails.contains(v) || (version == waves.version && waves.failing.contains(v))
            let outcome: CompileOutcome = failing ? .failed("policy/sim: rule 7: unknown field request.prot") : .compiled
            note("\(ids[v]) compiled \(version): \(outcome)")
            apply(agents[v].onCompiled(version, outcome: outcome, now: timestamp(now)), at: v)

        }
    }

    /// The network delivers: a link is up or gone, a frame arrived, a chunk left.
    func handle(_ delivery: SimNetwork<Payload>.Delivery) {
        switch delivery {
        case .connected(let side):
            note("\(name(side.endpoint)) connected \(side.link)")
            dispatch(side) { $0.onLinkConnected(side.link, now: $1) } ledger: { $0.onLinkConnected(side.link, now: $1) }
        case .failed(let side, let reason):
            guard network.failureReaches(side) else { return }
            note("\(name(side.endpoint)) link \(side.link) failed: \(reason)")
            dispatch(side) { $0.onLinkFailed(side.link, reason: reason, now: $1) } ledger: { $0.onLinkFailed(side.link, reason: reason, now: $1) }
        case .sent(let side, let index):
            dispatch(side) { a, now in a.onChunkSent(side.link, index: index, now: now) } ledger: { s, now in s.onChunkSent(side.link, index: index, now: now) }
        case .frame(let to, let frame, let tampered):
            deliver(frame, to: to, tampered: tampered, visible: tampered && !sabotage.hideTampering)
        }
    }

    func startDeployment(_ index: Int) {
        let bundle = bundles[index]
        if let old = seeder {
            var s = old
            let actions = s.stop(reason: "next deployment")
            seeder = nil
            apply(actions, at: ledgerEndpoint)
        }
        current = index
        note("ledger stage and deploy \(bundle.version)")
        let (version, _, stageActions) = deployments.onStage(
            manifest: bundle.manifestKey, manifestSize: Int64(bundle.manifest.canonicalBytes.count), size: Int64(run.chunks) * chunkSize,
            label: "sim v\(bundle.version.rawValue)", now: timestamp(now))
        applyLedger(stageActions)
        if rollout != nil && index == bundles.count - 1 {
            deployInWaves(index)
        } else {
            switch deployments.onDeploy(
                version, plan: bundle.plan, planKey: bundle.planKey, ledgerAddress: "10.255.0.2:7400",
                timeout: .milliseconds(Int64(run.deadline * 1000)), estimate: .init(transfer: .zero, depth: 0), supersede: true,
                now: timestamp(now))
            {
            case .success(let actions): applyLedger(actions)
            case .failure(let refusal): note("ledger deploy refused: \(refusal)")
            }
        }
        if index > 0 {
            // The gremlin replays the previous announcement to a few nodes: anti-rollback must refuse it.
            let old = bundles[index - 1].version
            if let record = deployments.versions[old], let announcement = record.deployment?.announcement {
                let envelope = ledgerKey.envelope(announcement, context: .announce)
                let incoming = IncomingAnnouncement(announcement: announcement, envelope: envelope.canonicalBytes, signature: .valid)
                for v in random.sample((0..<Int32(n)).map { $0 }, max(1, n / 20)).sorted() {
                    schedule(.announce(Int(v), incoming), at: now + Self.ns(0.5) + Int64(random.below(1_000_000)))
                }
            }
        }
    }

    // MARK: The ledger

    func applyLedger(_ actions: [DeploymentMachine.Action]) {
        for action in actions {
            switch action {
            case .persist(let record):
                statusLog.append((record.version, record.status, now))
                note("ledger persist \(record.version) \(record.status)")
                if rollout != nil { notePersist(record) }
                if record.status == .active || record.status == .incomplete || record.status == .aborted, record.version == bundles[current].version {
                    if current + 1 < bundles.count {
                        schedule(.deploy(current + 1), at: now + Self.ns(1))
                    } else if end == .max {
                        // Late acks and closing links still count; then the run is over.
                        end = now + Self.ns(10)
                    }
                }
            case .recordAck, .audit:
                break
            case .report(let report):
                ledgerReports.append(report)
            case .publishAnnouncement(let announcement):
                let envelope = ledgerKey.envelope(announcement, context: .announce)
                let incoming = IncomingAnnouncement(announcement: announcement, envelope: envelope.canonicalBytes, signature: .valid)
                for v in 0..<n where !killed[v] {
                    var at = now + link(ledgerEndpoint, v).latency
                    if partitioned(ledgerEndpoint, v, at: at) { at = partitionUntil }
                    schedule(.announce(v, incoming), at: at)
                }
            case .startSeeding(let version, let planKey):
                let bundle = bundles[current]
                let envelope = ledgerKey.envelope(deployments.versions[version]!.deployment!.announcement, context: .announce)
                seedersStarted += 1
                // A rollout's waves each have a plan of their own; any other deployment has its bundle's.
                let plan = waves.plans[planKey] ?? bundle.plan
                var s = SeederMachine(
                    plan: plan, planKey: waves.plans[planKey] == nil ? bundle.planKey : planKey, manifest: bundle.manifestKey, chunkKeys: bundle.chunkKeys,
                    announcement: envelope.canonicalBytes, firstLink: SeederMachine.linkRange(seedersStarted))
                let actions = s.start()
                seeder = s
                apply(actions, at: ledgerEndpoint)
            case .askForAnswers(let version, let nodes):
                let index = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
                for node in nodes {
                    guard let v = index[node] else { continue }
                    schedule(.answerRequest(v, version), at: now + link(ledgerEndpoint, v).latency)
                }
            case .stopSeeding:
                if var s = seeder {
                    let actions = s.stop(reason: "deployment over")
                    seeder = s
                    apply(actions, at: ledgerEndpoint)
                }
            case .armDeadline(let version, let at):
                if sabotage.loseLedgerDeadline {
                    note("sabotage: the ledger's deadline for \(version) is never armed")
                } else {
                    schedule(.ledgerDeadline(version), at: engineTime(at))
                }
            case .refused(let refusal):
                note("ledger deploy refused: \(refusal)")
            case .planWave, .publishActivation, .publishAlarm, .armTimer, .rollBack, .rolloutRefused, .announceTo:
                applyRollout(action)
            }
        }
    }

    /// What reaches the ledger: every signature checked (unless sabotaged), then the deployment machine.
    func ingest(_ aggregate: Aggregate) {
        messagesAtLedger += 1
        var verified: [Ack] = []
        var actions: [DeploymentMachine.Action] = []
        for envelope in aggregate.acks {
            envelopesAtLedger.append(envelope)
            guard let text = envelope.signed["node"]?.stringValue, let node = NodeID(text), let i = nodeIndex[node] else {
                actions += deployments.onUnverifiedAck(node: nil, version: aggregate.version, reason: "ack from an unknown node")
                continue
            }
            do {
                verified.append(try envelope.open(Ack.self, context: .ack, trusted: TrustedKeys([nodeKeys[i]])))
            } catch {
                actions += deployments.onUnverifiedAck(node: node, version: aggregate.version, reason: "\(error)")
            }
        }
        if let forged = sabotage.forgedAckFor, let record = deployments.versions[aggregate.version] {
            // Sabotage: a forged ack (signed by the wrong key) counted without checking.
            let ack = Ack(fleet: aggregate.fleet, version: aggregate.version, node: forged, manifest: record.manifest, status: .active, reason: "", at: timestamp(now))
            let envelope = ledgerKey.envelope(ack, context: .ack)
            envelopesAtLedger.append(envelope)
            verified.append(ack)
        }
        actions += deployments.onAcks(verified, now: timestamp(now))
        actions += deployments.onMissingReports(aggregate.version, aggregate.missing, from: aggregate.relay)
        // Tamper reports count only under their victims' signatures, as at the real ledger.
        let reports = aggregate.reports.compactMap { envelope -> TamperReport? in
            guard let text = envelope.signed["node"]?.stringValue, let node = NodeID(text), let i = nodeIndex[node] else { return nil }
            return try? envelope.open(TamperReport.self, context: .report, trusted: TrustedKeys([nodeKeys[i]]))
        }
        if !reports.isEmpty { actions += deployments.onTamperReports(aggregate.version, reports) }
        applyLedger(actions)
    }

    // MARK: Machines

    func dispatch(
        _ side: Side, agent body: (inout AgentMachine, Timestamp) -> [AgentMachine.Action],
        ledger: (inout SeederMachine, Timestamp) -> [SeederMachine.Action]
    ) {
        if isLedger(side.endpoint) {
            guard side.endpoint == ledgerEndpoint, var s = seeder else { return }
            let actions = ledger(&s, timestamp(now))
            seeder = s
            apply(actions, at: side.endpoint)
        } else {
            let v = side.endpoint
            guard !killed[v] else { return }
            if side.link.isOutbound && side.generation != agents[v].current.map({ $0.version.rawValue }) { return }
            let actions = body(&agents[v], timestamp(now))
            apply(actions, at: v)
        }
    }

    func readAnnouncement(_ bytes: [UInt8]) -> IncomingAnnouncement? {
        guard let read = try? SignedEnvelope.decode(bytes, as: Announcement.self) else { return nil }
        let check = announcementCache[bytes] ?? SignatureCheck { try read.envelope.verify(context: .announce, trusted: trusted) }
        announcementCache[bytes] = check
        return IncomingAnnouncement(announcement: read.document, envelope: bytes, signature: check)
    }

    /// `tampered`: the bytes were altered on the way (ground truth); `visible`: the receiver's hash check sees it.
    func deliver(_ frame: OutboundFrame, to side: Side, tampered: Bool, visible: Bool) {
        var isHello = false
        if case .hello = frame { isHello = true }
        let arrival = network.arrival(at: side, isHello: isHello)
        guard arrival != .dropped else { return }
        let link = side.link
        let v = side.endpoint
        switch frame {
        case .hello(let hello):
            note("\(name(v)) hello \(hello.purpose) from \(hello.node) on \(link)")
            if arrival == .introduction {
                let incoming = hello.announcement.isEmpty ? nil : readAnnouncement(hello.announcement)
                dispatch(side) { $0.onLinkAccepted(link, hello: hello, announcement: incoming, local: nil, now: $1) } ledger: {
                    $0.onLinkAccepted(link, hello: hello, now: $1)
                }
            } else {
                dispatch(side) { $0.onHello(link, hello: hello, now: $1) } ledger: { $0.onHello(link, hello: hello, now: $1) }
            }
        case .plan(let subtree):
            note("\(name(v)) plan stripe \(subtree.stripe) (\(subtree.nodes.count) nodes) on \(link)")
            dispatch(side) { $0.onPlan(link, subtree: subtree, now: $1) } ledger: { _, _ in [] }
        case .manifest(let key):
            note("\(name(v)) manifest\(tampered ? " (tampered)" : "") on \(link)")
            let manifest = bundles.first { $0.manifestKey == key }?.manifest
            let actual = visible ? BLAKE2b.key(of: [1]) : key
            dispatch(side) { $0.onManifest(link, manifest: visible ? nil : manifest, actualKey: actual, now: $1) } ledger: { _, _ in [] }
        case .chunk(let index, let key):
            note("\(name(v)) chunk \(index)\(tampered ? " (tampered)" : "") on \(link)")
            let actual = visible ? BLAKE2b.key(of: [UInt8(index % 256), 0xEE]) : key
            guard !isLedger(v), !killed[v] else { return }
            let version = agents[v].current?.version
            let actions = agents[v].onChunk(link, index: index, claimedKey: key, actualKey: actual, now: timestamp(now))
            for action in actions {
                if case .storeChunk(let i, _) = action, let version {
                    var set = stored[v][version] ?? ChunkSet(count: run.chunks)
                    if set.contains(i) { duplicateChunks += 1 }
                    if i < set.count { set.insert(i) }
                    stored[v][version] = set
                    if tampered { storedTampered[v][version] = true }
                }
            }
            apply(actions, at: v)
        case .ack(let aggregate):
            note("\(name(v)) ack from \(aggregate.relay) (\(aggregate.acks.count) acks, \(aggregate.missing.count) missing) on \(link)")
            if isLedger(v) {
                guard v == ledgerEndpoint, var s = seeder else { return }
                let actions = s.onAck(link, aggregate: aggregate, now: timestamp(now))
                seeder = s
                apply(actions, at: v)
            } else {
                dispatch(side) { $0.onAck(link, aggregate: aggregate, now: $1) } ledger: { _, _ in [] }
            }
        case .nack(let entries):
            note("\(name(v)) nack \(entries.map { "\($0.index == NackEntry.manifestIndex ? "manifest" : "\($0.index)")/\($0.code)" }.joined(separator: ",")) on \(link)")
            dispatch(side) { $0.onNack(link, entries: entries, now: $1) } ledger: { $0.onNack(link, entries: entries, now: $1) }
        case .bye(let code, let reason):
            note("\(name(v)) bye \(code): \(reason) on \(link)")
            dispatch(side) { $0.onBye(link, code: code, reason: reason, now: $1) } ledger: { $0.onBye(link, code: code, reason: reason, now: $1) }
        }
    }

    // MARK: Actions

    func apply(_ actions: [AgentMachine.Action], at endpoint: Endpoint) {
        for action in actions { apply(action, at: endpoint) }
    }

    func apply(_ actions: [SeederMachine.Action], at endpoint: Endpoint) {
        for action in actions { apply(action, at: endpoint) }
    }

    func generation(of endpoint: Endpoint) -> UInt64 {
        isLedger(endpoint) ? 0 : agents[endpoint].current?.version.rawValue ?? 0
    }

    func frameBytes(_ frame: OutboundFrame) -> Int64 {
        switch frame {
        case .chunk: chunkSize + 64
        case .hello(let h): 64 + Int64(h.announcement.count) + Int64(h.have.count / 8)
        case .plan(let s): 200 + Int64(s.nodes.count) * 48
        case .manifest: 200 + Int64(run.chunks) * 66
        case .ack(let a): 150 + Int64(a.acks.count) * 330 + Int64(a.missing.count) * 80
        case .nack(let e): 32 + Int64(e.count) * 5
        case .bye(_, let r): 32 + Int64(r.utf8.count)
        }
    }

    // MARK: The simulated network (both machines' links)

    func connect(_ link: LinkID, to peer: PlanNode, at endpoint: Endpoint) {
        let side = Side(endpoint: endpoint, link: link, generation: generation(of: endpoint))
        let target: Endpoint? = peer.id.rawValue == "ledger" ? ledgerEndpoint : nodeIndex[peer.id]
        guard let target else {
            network.fail(side, "no such peer", after: 1_000_000)
            return
        }
        network.connect(side, to: target)
    }

    func send(_ frame: OutboundFrame, on link: LinkID, at endpoint: Endpoint) {
        network.send(frame, from: Side(endpoint: endpoint, link: link, generation: link.isOutbound ? generation(of: endpoint) : 0))
    }

    func close(_ link: LinkID, _ code: ByeCode?, reason: String, at endpoint: Endpoint) {
        network.close(Side(endpoint: endpoint, link: link, generation: link.isOutbound ? generation(of: endpoint) : 0), code, reason: reason)
    }

    func apply(_ action: AgentMachine.Action, at endpoint: Endpoint) {
        switch action {
        case .connect(let link, let peer, _):
            connect(link, to: peer, at: endpoint)
        case .send(let link, let frame):
            send(frame, on: link, at: endpoint)
        case .close(let link, let code, let reason):
            close(link, code, reason: reason, at: endpoint)
        case .storeChunk, .storeManifest, .discardCompiled:
            break
        case .persist(let record):
            if !isLedger(endpoint) { persistedActive[endpoint].append(record.active?.version ?? .none) }
            if endpoint == staleNode, staleRecord == nil, record.active != nil { staleRecord = record }
        case .compile(let version, _):
            if !isLedger(endpoint) { schedule(.compiled(endpoint, version), at: now + Self.ns(0.01)) }
        case .activate(let version):
            if !isLedger(endpoint) {
                note("\(ids[endpoint]) activates \(version)")
                activations[endpoint].append((version, now))
                if endpoint == staleNode, version == bundles.last?.version, let stale = staleRecord, stale.active?.version != version {
                    schedule(.restart(endpoint), at: now + Self.ns(0.1))
                }
            }
        case .publishAggregate(let aggregate):
            var at = now + (isLedger(endpoint) ? 0 : link(ledgerEndpoint, endpoint).latency)
            if !isLedger(endpoint) && partitioned(ledgerEndpoint, endpoint, at: at) { at = partitionUntil }
            schedule(.natsAggregate(aggregate), at: at)
        case .armTimer(let timer, let at):
            arm(.agent(timer), at: at, on: endpoint)
        case .cancelTimer(let timer):
            timers[endpoint]?[.agent(timer)] = nil
        case .report(let report):
            reports.append((name(endpoint), report))
        }
    }

    func apply(_ action: SeederMachine.Action, at endpoint: Endpoint) {
        switch action {
        case .connect(let link, let peer, _):
            connect(link, to: peer, at: endpoint)
        case .send(let link, let frame):
            send(frame, on: link, at: endpoint)
        case .close(let link, let code, let reason):
            close(link, code, reason: reason, at: endpoint)
        case .ingest(let aggregate):
            ingest(aggregate)
        case .armTimer(let timer, let at):
            arm(.seeder(timer), at: at, on: endpoint)
        case .cancelTimer(let timer):
            timers[endpoint]?[.seeder(timer)] = nil
        case .report(let report):
            reports.append((name(endpoint), report))
        }
    }

    func arm(_ timer: SimTimer, at: Timestamp, on endpoint: Endpoint) {
        let token = network.nextToken()
        timers[endpoint, default: [:]][timer] = token
        schedule(.timer(endpoint, timer, token), at: max(now, engineTime(at)))
    }

}

/// Signs an agent's acks with its node key (what ben-agent does).
struct SimSigner: AckSigner {
    let key: SigningKey

    func sign(_ ack: Ack) -> SignedEnvelope { key.envelope(ack, context: .ack) }
    func sign(_ report: TamperReport) -> SignedEnvelope { key.envelope(report, context: .report) }
}

/// A seeded hash of a few integers (chunk keys of simulated bundles).
enum PlanHash {
    static func mix(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        var r = SimRandom(seed: a ^ (b &* 0x9E37_79B9_7F4A_7C15), stream: c)
        return r.next()
    }
}

/// A timer of either machine, on the engine's one queue. Its description is the machine's, so traces read the
/// same whichever machine armed it.
enum SimTimer: Hashable, CustomStringConvertible {
    case agent(AgentMachine.Timer)
    case seeder(SeederMachine.Timer)

    var description: String {
        switch self {
        case .agent(let timer): timer.description
        case .seeder(let timer): timer.description
        }
    }
}

extension ProtocolEngine: SimNetworkModel {
    public func latency(_ a: Int, _ b: Int) -> (tier: Int, ns: Int64) {
        let (tier, latency) = link(a, b)
        return (tier.rawValue, latency)
    }

    public func wireBytes(_ frame: OutboundFrame) -> Int64 { frameBytes(frame) }

    public func onWire(_ frame: OutboundFrame, from: SimSide, to: SimSide, tier: Int, finish: Int64) -> Bool {
        let endpoint = from.endpoint
        var tampered = false
        if case .chunk = frame {
            chunkFrames += 1
            chunkBytes += chunkSize
            tierBytes[tier] += chunkSize
            if isLedger(endpoint) { ledgerEgress += chunkSize } else { tampered = tamperers.contains(endpoint) }
        }
        if case .manifest = frame, !isLedger(endpoint) { tampered = tamperers.contains(endpoint) }
        return tampered
    }

    public func gremlinResets(from: Int, to: Int, at finish: Int64) -> Bool {
        guard partitioned(from, to, at: finish) || (run.drop > 0 && random.unit() < run.drop) else { return false }
        note("gremlin resets \(name(from))→\(name(to))")
        return true
    }

    public func gremlinDelay() -> Int64 {
        run.delay > 0 && random.unit() < run.delay ? Self.ns(random.unit() * run.maxDelay) : 0
    }

    public func refusal(from endpoint: Int, to target: Int, at now: Int64) -> String? {
        if partitioned(endpoint, target, at: now) { return "connection timed out" }
        return !isLedger(target) && killed[target] ? "connection refused" : nil
    }
}
