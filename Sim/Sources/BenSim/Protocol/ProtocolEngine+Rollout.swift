public import BenCore
import BenCrypto
public import BenProtocol
import BenTopology

/// What the protocol engine saw of a rollout in waves, apart from what the deployment machine says: each wave's
/// nodes, when the engine started it (the machine's gate passed and it asked for the wave's plan), the wave plans,
/// and the figures a canary failure costs.
struct WaveTruth {
    /// The waves of the rolled-out version, resolved against the fleet's topology.
    let targets: [WaveTargets]
    /// The version rolled out in waves, once deployed.
    var version: Version?
    /// Nanoseconds at which each wave started (wave 0 at the deploy); nil for a wave never started.
    var started: [Int64?] = []
    var plans: [Key: Plan] = [:]
    var deployedAt: Int64?
    /// Chunk bytes sent before the rollout began, and by the time it was decided (active, incomplete or aborted).
    var bytesBefore: Int64 = 0
    var bytesDecided: Int64?
    var decidedAt: Int64?
    var activationsSent = 0
    /// The automatic rollback, when the policy asked for one.
    var rollback: Version?
    /// Nodes whose compile of the rolled-out version fails (`failFirstWave()`).
    var failing: Set<Int> = []

    init(_ rollout: SimRollout?, fleet: SimFleet) throws(SimError) {
        guard let rollout else {
            targets = []
            return
        }
        let topology = fleet.topology
        let index = topology.indexByID()
        let planned = fleet.planned.plan.nodes.compactMap { index[$0.id] }
        do {
            targets = try rollout.policy.resolve(in: topology, targets: planned)
        } catch {
            var e = SimError(error)
            e.location.field = "rollout.policy." + e.location.field
            throw e
        }
    }
}

/// The rollout part of a protocol run's outcome: each wave's timing, the time to full rollout with the bake times,
/// and what a canary failure costs.
public struct RolloutOutcome: Sendable {
    public struct Wave: Sendable {
        public var name: String
        public var nodes: Int
        /// Seconds from the deploy: when the wave started, was proven (its gates checked), and passed after its bake.
        public var startedAfter: Double?
        public var decidedAfter: Double?
        public var passedAfter: Double?
        public var bake: Double
        public var failure: String?
        /// Seconds from the deploy until the wave's first node and its last node ran the version (the engine's own
        /// record); nil when none did. Two-phase waves swap at one barrier, so the two are equal.
        public var firstActiveAfter: Double?
        public var lastActiveAfter: Double?
        public var nodesActive: Int
    }

    /// What a failed canary wave costs: the same run with every node of the first wave failing to compile.
    public struct CanaryFailure: Sendable {
        /// Seconds from the deploy until the rollout was aborted.
        public var abortedAfter: Double?
        public var nodesReached: Int
        public var nodesRefused: Int
        /// Required nodes of the waves never started: they never received the version.
        public var nodesSpared: Int
        public var nodesActivated: Int
        /// Chunk bytes sent for the version until the abort, and what sending it to every node would have cost.
        public var bytesSent: Int64
        public var bytesWithoutWaves: Int64
        /// Seconds from the deploy until the automatic rollback was active, when the policy asks for one.
        public var rolledBackAfter: Double?
        public var invariantsHold: Bool
    }

    public var version: Version
    public var twoPhase: Bool
    public var waves: [Wave]
    /// active, incomplete or aborted.
    public var status: VersionStatus
    /// Seconds from the deploy until the version was active on every required node (bakes included).
    public var timeToFullRollout: Double?
    /// Seconds from the deploy until the rollout was decided: active, incomplete (nodes missing) or aborted.
    public var decidedAfter: Double?
    public var bakeSeconds: Double
    public var activationsSent: Int
    public var abortReason: String?
    public var canaryFailure: CanaryFailure?
}

extension ProtocolEngine {
    /// Makes every node of the first wave fail to compile the rolled-out version (and only that version): the run
    /// then shows what a bad canary costs.
    public func failFirstWave() {
        waves.failing = Set((waves.targets.first?.nodes ?? []).compactMap { nodeIndex[$0] })
    }

    // MARK: Deploying in waves

    /// The last deployment, with the scenario's policy: the first wave planned and announced to its own nodes.
    func deployInWaves(_ index: Int) {
        guard let rollout else { return }
        let bundle = bundles[index]
        let version = bundle.version
        waves.version = version
        waves.deployedAt = now
        waves.bytesBefore = chunkBytes
        waves.started = [now] + [Int64?](repeating: nil, count: max(0, waves.targets.count - 1))
        let record = RolloutRecord(
            activation: rollout.twoPhase ? .automatic : .onArrival,
            waves: waves.targets.enumerated().map { i, w in
                let spec = rollout.policy.waves[i]
                return RolloutRecord.Wave(name: w.name, nodes: w.nodes, bake: spec.bake, gates: spec.gates, startedAt: i == 0 ? timestamp(now) : nil)
            },
            onFailure: rollout.policy.onFailure, previous: deployments.activeVersion, waveTimeout: .milliseconds(Int64(run.deadline * 1000)))
        // Sabotage: every node is seeded and told at once, though the machine believes the first wave alone was.
        let plan = sabotage.ignoreWaves ? bundle.plan : planWave(version, wave: 0, nodes: waves.targets[0].nodes)
        let planKey = BLAKE2b.key(of: plan)
        waves.plans[planKey] = plan
        note("ledger rolls \(version) out in \(waves.targets.count) waves (\(waves.targets.map { "\($0.name) \($0.nodes.count)" }.joined(separator: ", ")))")
        switch deployments.onDeploy(
            version, plan: plan, planKey: planKey, ledgerAddress: "10.255.0.2:7400", timeout: .milliseconds(Int64(run.deadline * 1000)),
            estimate: .init(transfer: .zero, depth: 0), supersede: true, rollout: record, now: timestamp(now))
        {
        case .success(let actions): applyLedger(actions)
        case .failure(let refusal): note("ledger deploy refused: \(refusal)")
        }
    }

    /// A wave's plan, from the real planner, over its nodes.
    func planWave(_ version: Version, wave: Int, nodes: [NodeID]) -> Plan {
        let key = Key(digest: [UInt8](repeating: UInt8(truncatingIfNeeded: version.rawValue), count: 32))
        let deployment = Deployment(
            version: version, topologyKey: key, selector: Selector(nodes: nodes), seed: seed &+ version.rawValue &+ UInt64(wave) << 16,
            bundleSize: Int64(run.chunks) * chunkSize)
        guard let planned = try? Planner().plan(fleet.topology, deployment) else {
            note("ledger cannot plan wave \(wave + 1) of \(version)")
            return Plan(fleet: fleet.planned.plan.fleet, version: version, topology: key, nodes: [], stripes: [[]], backups: [])
        }
        return planned.plan
    }

    /// The deployment machine's rollout actions.
    func applyRollout(_ action: DeploymentMachine.Action) {
        switch action {
        case .announceTo(let announcement, let nodes):
            let envelope = ledgerKey.envelope(announcement, context: .announce)
            let incoming = IncomingAnnouncement(announcement: announcement, envelope: envelope.canonicalBytes, signature: .valid)
            let targets = sabotage.ignoreWaves ? ids : nodes
            note("ledger announces \(announcement.version) to \(targets.count) nodes by name")
            for id in targets {
                guard let v = nodeIndex[id], !killed[v] else { continue }
                schedule(.announce(v, incoming), at: natsArrival(at: v))
            }
        case .planWave(let version, let wave, let nodes):
            note("ledger starts wave \(wave + 1) of \(version): \(nodes.count) nodes")
            if wave < waves.started.count { waves.started[wave] = now }
            let plan = planWave(version, wave: wave, nodes: nodes)
            let planKey = BLAKE2b.key(of: plan)
            waves.plans[planKey] = plan
            applyLedger(
                deployments.onWavePlanned(
                    version, wave: wave, plan: plan, planKey: planKey, ledgerAddress: "10.255.0.2:7400", estimate: .init(transfer: .zero, depth: 0),
                    leftOut: [:], now: timestamp(now)))
        case .publishActivation(let activation):
            note("ledger activates \(activation.version) at \(activation.barrier.rfc3339)")
            waves.activationsSent += 1
            let envelope = ledgerKey.envelope(activation, context: .activate)
            let check: SignatureCheck = (try? envelope.verify(context: .activate, trusted: trusted)) == nil ? .invalid("bad signature") : .valid
            let incoming = IncomingActivation(activation, signature: check)
            for v in 0..<n where !killed[v] { schedule(.activation(v, incoming), at: natsArrival(at: v)) }
        case .publishAlarm(let alarm):
            note("ledger alarm: stop \(alarm.version)")
            let envelope = ledgerKey.envelope(alarm, context: .alarm)
            let check: SignatureCheck = (try? envelope.verify(context: .alarm, trusted: trusted)) == nil ? .invalid("bad signature") : .valid
            let incoming = IncomingAlarm(alarm, signature: check)
            for v in 0..<n where !killed[v] { schedule(.alarm(v, incoming), at: natsArrival(at: v)) }
        case .armTimer(let timer, let at):
            schedule(.ledgerTimer(timer), at: max(now, engineTime(at)))
        case .rollBack(let version, let to, let nodes):
            deployRollback(of: version, to: to, nodes: nodes)
        case .rolloutRefused(let refusal):
            note("ledger rollout request refused: \(refusal)")
        default:
            break
        }
    }

    /// When a message the ledger publishes on NATS reaches node `v` (after a partition of its zone heals).
    func natsArrival(at v: Int) -> Int64 {
        var at = now + link(ledgerEndpoint, v).latency
        if partitioned(ledgerEndpoint, v, at: at) { at = partitionUntil }
        return at
    }

    func handleRollout(_ payload: Payload) {
        switch payload {
        case .activation(let v, let incoming):
            guard !killed[v] else { return }
            note("\(ids[v]) activation \(incoming.document.version) for \(incoming.document.barrier.rfc3339)")
            apply(agents[v].onActivation(incoming, now: timestamp(now)), at: v)
        case .alarm(let v, let incoming):
            guard !killed[v] else { return }
            note("\(ids[v]) alarm \(incoming.document.version)")
            apply(agents[v].onAlarm(incoming, now: timestamp(now)), at: v)
        case .ledgerTimer(let timer):
            note("ledger timer \(timer)")
            applyLedger(deployments.onTimer(timer, now: timestamp(now)))
        default:
            break
        }
    }

    /// The rolled-out version was decided (active, incomplete, aborted): what it cost so far.
    func notePersist(_ record: VersionRecord) {
        guard record.version == waves.version, waves.decidedAt == nil, [.active, .incomplete, .aborted].contains(record.status) else { return }
        waves.decidedAt = now
        waves.bytesDecided = chunkBytes
    }

    /// `on_failure: rollback`: a new version with `to`'s content, deployed to the nodes the rollout reached, as the
    /// ledger does (`benctl rollback`).
    func deployRollback(of version: Version, to: Version, nodes: [NodeID]) {
        guard let source = bundles.first(where: { $0.version == to }) else {
            note("ledger cannot roll \(version) back: no bundle of \(to)")
            return
        }
        if var s = seeder {
            let actions = s.stop(reason: "rollback")
            seeder = nil
            apply(actions, at: ledgerEndpoint)
        }
        let (rollback, _, staged) = deployments.onStage(
            manifest: source.manifestKey, manifestSize: Int64(source.manifest.canonicalBytes.count), size: Int64(run.chunks) * chunkSize,
            label: "rollback of \(version) to \(to)", forceNew: true, now: timestamp(now))
        applyLedger(staged)
        let plan = planWave(rollback, wave: 0, nodes: nodes)
        bundles.append(Bundle(version: rollback, plan: plan, planKey: BLAKE2b.key(of: plan), manifest: source.manifest, manifestKey: source.manifestKey, chunkKeys: source.chunkKeys))
        current = bundles.count - 1
        waves.rollback = rollback
        // The run goes on until the rollback is decided.
        end = .max
        note("ledger rolls \(version) back as \(rollback) to \(nodes.count) nodes")
        applyLedger(deployments.handle(.rolledBack(version, as: rollback), now: timestamp(now)))
        switch deployments.onDeploy(
            rollback, plan: plan, planKey: BLAKE2b.key(of: plan), ledgerAddress: "10.255.0.2:7400", timeout: .milliseconds(Int64(run.deadline * 1000)),
            estimate: .init(transfer: .zero, depth: 0), supersede: true, now: timestamp(now))
        {
        case .success(let actions): applyLedger(actions)
        case .failure(let refusal): note("ledger rollback refused: \(refusal)")
        }
    }

    // MARK: Outcome

    func rolloutOutcome() -> RolloutOutcome? {
        guard let rollout, let version = waves.version, let record = deployments.versions[version], let r = record.deployment?.rollout,
            let deployedAt = waves.deployedAt
        else { return nil }
        let base = timestamp(deployedAt)
        func after(_ t: Timestamp?) -> Double? { t.map { Double(($0 - base).milliseconds) / 1000 } }
        let active = statusLog.first { $0.0 == version && $0.1 == .active }?.2
        var abortReason: String?
        if case .aborted(let reason) = r.step { abortReason = reason }
        func since(_ t: Int64) -> Double { Double(t - deployedAt) / 1e9 }
        return RolloutOutcome(
            version: version, twoPhase: rollout.twoPhase,
            waves: r.waves.enumerated().map { i, w in
                let times = w.nodes.compactMap { nodeIndex[$0] }.compactMap { v in activations[v].first { $0.version == version }?.at }
                return RolloutOutcome.Wave(
                    name: w.name, nodes: w.nodes.count, startedAfter: waves.started.indices.contains(i) ? waves.started[i].map(since) : nil,
                    decidedAfter: after(w.decidedAt), passedAfter: after(w.passedAt), bake: Double(w.bake.milliseconds) / 1000, failure: w.failure,
                    firstActiveAfter: times.min().map(since), lastActiveAfter: times.max().map(since), nodesActive: times.count)
            },
            status: statusLog.last { $0.0 == version }?.1 ?? record.status, timeToFullRollout: active.map(since), decidedAfter: waves.decidedAt.map(since),
            bakeSeconds: r.waves.dropLast().reduce(0) { $0 + Double($1.bake.milliseconds) / 1000 }, activationsSent: waves.activationsSent,
            abortReason: abortReason)
    }

    /// What a failed canary cost in this run (the caller made every node of the first wave fail to compile).
    func canaryFailureCost(outcome: ProtocolOutcome) -> RolloutOutcome.CanaryFailure? {
        guard let version = waves.version, let deployedAt = waves.deployedAt, let record = deployments.versions[version]?.deployment else { return nil }
        let reachedWaves = waves.started.filter { $0 != nil }.count
        let reached = waves.targets.prefix(reachedWaves).reduce(0) { $0 + $1.nodes.count }
        let refused = record.acks.values.filter { $0.status == .refused }.count
        let activated = (0..<n).filter { i in activations[i].contains { $0.version == version } }.count
        var rolledBackAfter: Double?
        if let rollback = waves.rollback, let active = statusLog.first(where: { $0.0 == rollback && $0.1 == .active })?.2 {
            rolledBackAfter = Double(active - deployedAt) / 1e9
        }
        let aborted = statusLog.first { $0.0 == version && $0.1 == .aborted }?.2
        return RolloutOutcome.CanaryFailure(
            abortedAfter: aborted.map { Double($0 - deployedAt) / 1e9 }, nodesReached: reached, nodesRefused: refused,
            nodesSpared: record.required.count - reached, nodesActivated: activated, bytesSent: (waves.bytesDecided ?? chunkBytes) - waves.bytesBefore,
            bytesWithoutWaves: Int64(record.required.count) * Int64(run.chunks) * chunkSize, rolledBackAfter: rolledBackAfter, invariantsHold: outcome.passed)
    }

    /// The waves' invariant: no node of a wave activates the version before that wave started, that is before the
    /// gates of the wave before it passed (the engine starts a wave only when the deployment machine asks for it).
    func checkWaves() -> [ProtocolOutcome.Violation] {
        guard let version = waves.version else { return [] }
        var violations: [ProtocolOutcome.Violation] = []
        for (w, wave) in waves.targets.enumerated() where w > 0 {
            let started = waves.started.indices.contains(w) ? waves.started[w] : nil
            for id in wave.nodes {
                guard let i = nodeIndex[id], let activation = activations[i].first(where: { $0.version == version }) else { continue }
                if started == nil || activation.at < started! {
                    let when = started.map { "it started at \(Double($0) / 1e9) s" } ?? "it never started"
                    violations.append(
                        .init(
                            invariant: .noActivationBeforeItsWave,
                            detail: "\(id) of wave \(w + 1) (\(wave.name)) activated \(version) at \(Double(activation.at) / 1e9) s; \(when)"))
                }
            }
        }
        return violations
    }
}
