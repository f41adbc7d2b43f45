import BenCore
import BenCrypto
import BenNATS
import BenProtocol
import BenTopology
import Logging

/// Rollout control (issue 17): a deploy with a rollout policy or two-phase activation, the waves the deployment
/// machine asks to plan, the signed activation, pause, resume and abort, the alerts heartbeats report, and the
/// automatic rollback. The machine decides; this carries its decisions out.
extension LedgerService {
    // MARK: Deploy

    /// The rollout a deploy asks for (`policy`, `two_phase`, `prepare`), its waves resolved against the topology, or
    /// nil for a plain deploy. Refused (nothing written) for a policy that does not read, names unknown things, has a
    /// wave that takes no target, or leaves targets out of every wave.
    func rolloutRecord(_ args: JSONValue, selector: Selector, topology: Topology, timeout: Duration?, now: Timestamp) throws -> RolloutRecord? {
        let automatic = args["two_phase"] == .bool(true)
        let manual = args["prepare"] == .bool(true)
        var policy: RolloutPolicy?
        if let value = args["policy"], value != .null {
            do {
                policy = try RolloutPolicy(json: value, path: "policy")
            } catch {
                throw APIError("\(error); nothing was done")
            }
        }
        guard policy != nil || automatic || manual else { return nil }
        if automatic && manual {
            throw APIError("--prepare (activate by hand) and --two-phase (activate once prepared) exclude each other; nothing was done")
        }
        if manual, let policy, policy.waves.count > 1 {
            throw APIError(
                "--prepare activates by hand and takes a policy of one wave, not \(policy.waves.count); --two-phase activates each wave once it has prepared; nothing was done")
        }
        let targets = selector.selectedNodes(in: topology).filter { !topology.nodes[$0].maintenance }
        guard !targets.isEmpty else { throw APIError("\(selector) selects no node outside maintenance; nothing was done") }
        let resolved: [WaveTargets]
        if let policy {
            do {
                resolved = try policy.resolve(in: topology, targets: targets)
            } catch {
                throw APIError("policy: \(error.description)")
            }
        } else {
            resolved = [WaveTargets(name: "all", nodes: targets.map { topology.nodes[$0].id }.sorted())]
        }
        var waves: [RolloutRecord.Wave] = []
        for (i, wave) in resolved.enumerated() {
            let spec = policy?.waves[i]
            waves.append(
                RolloutRecord.Wave(
                    name: wave.name, nodes: wave.nodes, bake: spec?.bake ?? .zero, gates: spec?.gates ?? RolloutPolicy.Gates(),
                    startedAt: i == 0 ? now : nil))
        }
        return RolloutRecord(
            activation: automatic ? .automatic : manual ? .manual : .onArrival, waves: waves, onFailure: policy?.onFailure ?? .stay,
            previous: machine.activeVersion, waveTimeout: timeout)
    }

    /// The rollout part of `deploy`'s answer: how nodes swap, and the waves with their sizes.
    func rolloutAnswer(_ rollout: RolloutRecord) -> JSONValue {
        [
            "activation": .string(rollout.activation.rawValue), "on_failure": .string(rollout.onFailure.rawValue),
            "waves": .array(rollout.waves.map { ["name": .string($0.name), "nodes": .int(Int64($0.nodes.count)), "bake_ms": .int($0.bake.milliseconds)] }),
        ]
    }

    // MARK: The machine's rollout actions

    func performRollout(_ action: DeploymentMachine.Action) {
        switch action {
        case .planWave(let version, let wave, let nodes):
            planWave(version, wave: wave, nodes: nodes)
        case .publishActivation(let activation):
            publish(activation)
        case .publishAlarm(let alarm):
            publish(alarm)
        case .armTimer(let timer, let at):
            arm(.rollout(timer), at: at)
        case .rollBack(let version, let to, let nodes):
            rollBack(version, to: to, nodes: nodes)
        case .rolloutRefused(let refusal):
            logger.notice("rollout request refused", metadata: ["reason": "\(refusal)"])
        case .announceTo(let announcement, let nodes):
            announce(announcement, to: nodes)
        default:
            perform([action])
        }
    }

    /// Plans the next wave over its nodes (those silent now are planned around, as for any deploy) and hands the
    /// plan to the machine, which announces it.
    func planWave(_ version: Version, wave: Int, nodes: [NodeID]) {
        guard let (topology, topologyKey) = topology, let record = machine.versions[version] else { return }
        let now = now()
        do {
            let planned = try Planner().plan(
                topology,
                Deployment(
                    version: version, topologyKey: topologyKey, selector: Selector(nodes: nodes), seed: version.rawValue &+ UInt64(wave),
                    down: silentNodes(now: now), bundleSize: record.bundleSize))
            let plan = planned.plan
            let planKey = try store.putDocument(plan)
            let cost = CostModel(topology: topology).evaluate(plan, topologyIndex: planned.topologyIndex, bundleSize: record.bundleSize, scheme: "plan")
            let estimate = DeploymentMachine.PlanEstimate(transfer: .milliseconds(Int64(cost.completion * 1000)), depth: cost.depth)
            logger.info("wave planned", metadata: ["ben.version": "\(version)", "wave": "\(wave + 1)", "nodes": "\(plan.nodes.count)"])
            perform(
                machine.onWavePlanned(
                    version, wave: wave, plan: plan, planKey: planKey, ledgerAddress: configuration.seedListen.description, estimate: estimate,
                    leftOut: Self.leftOut(planned.excluded, heartbeats: heartbeats, declaredDead: gossipDeathReasons()), now: now))
        } catch {
            // Nothing of this wave was announced: the rollout stops here rather than skip it.
            logger.error("cannot plan the next wave; aborting the rollout", metadata: ["ben.version": "\(version)", "error": "\(error)"])
            if case .success(let actions) = machine.onAbort(version, reason: "wave \(wave + 1) could not be planned: \(error)", now: now) { perform(actions) }
        }
    }

    /// Signs a wave's announcement (kept for the seeders' HELLOs, as any) and sends it to each node of the wave by
    /// name, not to the fleet's stream.
    func announce(_ announcement: Announcement, to nodes: [NodeID]) {
        let (_, bytes) = signUnderEpoch(announcement)
        announcements[announcement.version] = bytes
        try? database.setSetting("announcement.\(announcement.version.rawValue)", Hex.encode(bytes))
        guard let nats, mayAct("announce \(announcement.version) to a wave") else { return }
        let fleet = configuration.fleet
        let logger = logger
        let version = announcement.version
        tasks.spawn {
            for node in nodes {
                do {
                    try await nats.publish(bytes, subject: NATSSubjects.nodeAnnounce(fleet, node: node))
                } catch {
                    logger.warning("cannot announce to a node of the wave", metadata: ["ben.node": "\(node)", "ben.version": "\(version)", "error": "\(error)"])
                }
            }
            logger.info("announced to a wave", metadata: ["ben.version": "\(version)", "nodes": "\(nodes.count)"])
        }
    }

    /// Signs the activation under this ledger's epoch and publishes it on `ben.<fleet>.activate`.
    func publish(_ activation: Activation) {
        guard let nats, mayAct("publish the activation of \(activation.version)") else { return }
        var activation = activation
        activation.epoch = epoch
        let bytes = configuration.key.envelope(activation, context: .activate).canonicalBytes
        let subject = NATSSubjects.activate(configuration.fleet)
        let logger = logger
        let version = activation.version
        logger.info("activation", metadata: ["ben.version": "\(version)", "barrier": "\(activation.barrier.rfc3339)"])
        gossipActivation(bytes)
        tasks.spawn {
            do {
                try await nats.publish(bytes, subject: subject)
                try await nats.flush()
            } catch {
                logger.error("cannot publish the activation; `benctl activate` sends it again", metadata: ["ben.version": "\(version)", "error": "\(error)"])
            }
        }
    }

    /// `on_failure: rollback`: a new version with `to`'s content, deployed to the nodes the aborted rollout reached,
    /// as `benctl rollback --to` makes it.
    func rollBack(_ version: Version, to: Version, nodes: [NodeID]) {
        do {
            let answer = try rollback(args: [
                "to": .int(Int64(to.rawValue)), "nodes": .array(nodes.map { .string($0.rawValue) }),
                "label": .string("automatic rollback of \(version) to \(to)'s content"),
            ])
            guard case .int(let made)? = answer["version"] else { return }
            logger.notice("rolled back", metadata: ["ben.version": "\(version)", "to": "\(to)", "as": "v\(made)", "nodes": "\(nodes.count)"])
            perform(machine.handle(.rolledBack(version, as: Version(UInt64(made))), now: now()))
        } catch {
            logger.error("cannot roll back automatically; `benctl rollback --to \(to.rawValue)` does it by hand", metadata: ["ben.version": "\(version)", "error": "\(error)"])
            audit("rollout", detail: ["version": .int(Int64(version.rawValue)), "step": "rollback", "detail": .string("failed: \(error)")])
        }
    }

    /// A heartbeat reported alerts raised by the node's active version: they count against a baking wave's gate.
    func alertsReported(_ beat: Heartbeat) {
        guard let version = machine.deploying, beat.active == version else { return }
        perform(machine.handle(.alerts(version, node: beat.node, count: beat.alerts), now: now()))
    }

    // MARK: Control verbs

    /// `activate`, `rollout.pause`, `rollout.resume` and `rollout.abort`.
    func rolloutControl(verb: String, args: JSONValue) throws -> JSONValue {
        guard case .int(let v)? = args["version"], v > 0 else { throw APIError("\(verb) needs a version") }
        let version = Version(UInt64(v))
        let input: DeploymentMachine.Input
        switch verb {
        case "activate":
            let lead: Duration? = { if case .int(let ms)? = args["lead_ms"], ms >= 0 { .milliseconds(ms) } else { nil } }()
            input = .activate(version, lead: lead, partial: args["partial"] == .bool(true))
        case "rollout.pause": input = .pause(version)
        case "rollout.resume": input = .resume(version)
        default: input = .abort(version, reason: "aborted by the operator")
        }
        audit(verb, detail: ["version": .int(v), "args": args])
        let actions = machine.handle(input, now: now())
        if case .rolloutRefused(let refusal)? = actions.first { throw APIError(refusal.description) }
        perform(actions)
        let record = machine.versions[version]
        var answer: [String: JSONValue] = [
            "version": .int(v), "status": .string(record?.status.rawValue ?? "?"),
            "step": .string(record?.deployment?.rollout?.step.name ?? "-"), "paused": .bool(record?.deployment?.rollout?.paused ?? false),
        ]
        if let barrier = record?.deployment?.rollout?.barrier, verb == "activate" { answer["barrier"] = .string(barrier.rfc3339) }
        return .object(answer)
    }

    // MARK: Status

    /// The rollout part of a status: each wave with its nodes counted by answer, and the activation's spread.
    func rolloutStatus(_ d: DeploymentRecord) -> RolloutStatus? {
        guard let r = d.rollout else { return nil }
        var waves: [RolloutStatus.Wave] = []
        for (i, wave) in r.waves.enumerated() {
            var (active, prepared, refused) = (0, 0, 0)
            for node in wave.nodes {
                switch d.acks[node]?.status {
                case .active: active += 1
                case .prepared: prepared += 1
                case .refused: refused += 1
                case nil: break
                }
            }
            let state: String
            if wave.failure != nil {
                state = "failed"
            } else if i < r.current || wave.passedAt != nil {
                state = "passed"
            } else if i > r.current {
                state = "pending"
            } else {
                state = r.step.name
            }
            waves.append(
                RolloutStatus.Wave(
                    name: wave.name, state: state, nodes: wave.nodes.count, active: active, prepared: prepared, refused: refused,
                    alerts: i == r.current ? wave.nodes.reduce(0) { $0 + (r.alerts[$1] ?? 0) } : 0, bake: wave.bake, startedAt: wave.startedAt,
                    decidedAt: wave.decidedAt, passedAt: wave.passedAt, failure: wave.failure))
        }
        var reason: String?
        if case .aborted(let why) = r.step { reason = why }
        var bakeUntil: Timestamp?
        if case .baking(let until) = r.step { bakeUntil = until }
        var spread: Duration?
        if r.activation.isTwoPhase, r.barrier != nil {
            let swaps = r.waves[r.current].nodes.compactMap { node in d.acks[node].flatMap { $0.status == .active ? $0.at : nil } }
            if let first = swaps.min(), let last = swaps.max() { spread = last - first }
        }
        return RolloutStatus(
            activation: r.activation.rawValue, step: r.step.name, reason: reason, paused: r.paused, current: r.current + 1,
            onFailure: r.onFailure.rawValue, barrier: r.barrier, bakeUntil: bakeUntil, rollback: r.rollback, activationSpread: spread, waves: waves)
    }

    /// The required nodes by region/zone, with what they answered (progress by location).
    func locationProgress(_ d: DeploymentRecord, filter: Set<NodeID>?) -> [LocationProgress] {
        guard let (topology, _) = topology else { return [] }
        let index = topology.indexByID()
        var rows: [String: LocationProgress] = [:]
        for node in d.required where filter?.contains(node) ?? true {
            let location = index[node].map { i in topology.location(of: i).split(separator: "/").prefix(2).joined(separator: "/") } ?? "?"
            var row = rows[location] ?? LocationProgress(location: location, required: 0, active: 0, prepared: 0, refused: 0)
            row.required += 1
            switch d.acks[node]?.status {
            case .active: row.active += 1
            case .prepared: row.prepared += 1
            case .refused: row.refused += 1
            case nil: break
            }
            rows[location] = row
        }
        return rows.keys.sorted().map { rows[$0]! }
    }
}
