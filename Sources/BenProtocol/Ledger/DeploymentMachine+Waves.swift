public import BenCore

/// Rollouts in waves, and two-phase activation (DESIGN §9, issue 17): the deployment machine proves each wave with
/// signed acks before the next one starts, checks its gates, bakes it, and aborts on a failed gate; in a two-phase
/// rollout it sends the signed activation once a wave has prepared. Every decision is an audit event.
extension DeploymentMachine {
    /// How a wave's nodes stand, from the acks held.
    struct WaveTally {
        var active: [NodeID] = []
        var prepared: [NodeID] = []
        var refused: [NodeID] = []
        var silent: [NodeID] = []
    }

    func tally(_ wave: RolloutRecord.Wave, in d: DeploymentRecord) -> WaveTally {
        var t = WaveTally()
        for node in wave.nodes {
            switch d.acks[node]?.status {
            case .active: t.active.append(node)
            case .prepared: t.prepared.append(node)
            case .refused: t.refused.append(node)
            case nil: t.silent.append(node)
            }
        }
        return t
    }

    /// One line for the audit log and `deploy`'s answer: "two-phase (automatic); 2 waves: canary (2 nodes, bake 5.0 s),
    /// rest (16 nodes); on a failed gate: rollback".
    public static func describe(_ r: RolloutRecord) -> String {
        var parts: [String] = []
        if r.activation.isTwoPhase {
            parts.append("two-phase (\(r.activation == .manual ? "activated by the operator" : "activated once prepared"))")
        }
        let waves = r.waves.map { w in
            "\(w.name) (\(w.nodes.count) node\(w.nodes.count == 1 ? "" : "s")\(w.bake > .zero ? ", bake \(w.bake.secondsText)" : ""))"
        }
        parts.append("\(r.waves.count) wave\(r.waves.count == 1 ? "" : "s"): \(waves.joined(separator: ", "))")
        parts.append("on a failed gate: \(r.onFailure.rawValue)")
        return parts.joined(separator: "; ")
    }

    /// How a wave is announced: to its own nodes by name, except the last wave, which is announced to the fleet (and
    /// kept by JetStream, so a node that comes back later catches up on the version the fleet ends on).
    func announcing(_ announcement: Announcement, wave: Int, of rollout: RolloutRecord) -> Action {
        wave == rollout.waves.count - 1 ? .publishAnnouncement(announcement) : .announceTo(announcement, nodes: rollout.waves[wave].nodes)
    }

    // MARK: Reading and writing the rollout

    func rollout(of version: Version) -> RolloutRecord? { versions[version]?.deployment?.rollout }

    mutating func setRollout(_ version: Version, _ rollout: RolloutRecord) {
        versions[version]?.deployment?.rollout = rollout
    }

    func persisting(_ version: Version) -> [Action] {
        versions[version].map { [.persist($0)] } ?? []
    }

    func audit(_ version: Version, _ step: String, _ detail: String) -> Action {
        .audit(.rollout(version, step: step, detail: detail))
    }

    func waveName(_ r: RolloutRecord, _ i: Int) -> String { "wave \(i + 1) (\(r.waves[i].name))" }

    // MARK: Acks

    /// After acks were recorded: decides the current wave once every node of it has answered (for two-phase, its
    /// prepare once every node prepared, and its activation once every prepared node swapped).
    mutating func advanceRollout(_ version: Version, now: Timestamp) -> [Action] {
        guard let record = versions[version], let d = record.deployment, var r = d.rollout, !r.isDone else { return [] }
        if record.status == .active {
            // The last acks made it active (every required node of every wave): the rollout is over.
            r.waves[r.current].decidedAt = r.waves[r.current].decidedAt ?? now
            r.step = .finished
            setRollout(version, r)
            return persisting(version) + [audit(version, "finished", "every node of every wave is active")]
        }
        guard record.status == .deploying else { return [] }
        let t = tally(r.waves[r.current], in: d)
        switch r.step {
        case .rolling:
            // One phase waits for active or refused; two-phase for prepared (or active, a node answering again).
            guard t.silent.isEmpty, r.activation.isTwoPhase || t.prepared.isEmpty else { return [] }
            return decideWave(version, now: now)
        case .activating:
            guard t.prepared.isEmpty else { return [] }
            return decideWave(version, now: now)
        default:
            return []
        }
    }

    /// The deadline of a rollout's step passed (`onDeadline` calls this for rollouts).
    mutating func onRolloutDeadline(_ version: Version, now: Timestamp) -> [Action] {
        guard let r = rollout(of: version) else { return [] }
        switch r.step {
        case .rolling, .activating:
            return decideWave(version, now: now)
        case .finished:
            // A retry of a finished rollout ran out of time, as a plain one does.
            guard let d = versions[version]?.deployment else { return [] }
            return transition(version, to: .incomplete, now: now, detail: "\(d.missing.count) of \(d.required.count) nodes missing") + [
                .stopSeeding(version)
            ]
        default:
            return []
        }
    }

    /// The current wave is proven (every node answered) or its deadline passed: its gates decide what comes next.
    mutating func decideWave(_ version: Version, now: Timestamp) -> [Action] {
        guard let d = versions[version]?.deployment, var r = d.rollout else { return [] }
        let i = r.current
        let wave = r.waves[i]
        let t = tally(wave, in: d)
        let preparing = r.step == .rolling && r.activation.isTwoPhase
        // Missing: no answer yet, or (once activated) prepared but no active ack.
        let missing = preparing ? t.silent : t.silent + t.prepared
        let answered =
            preparing ? "\(t.prepared.count + t.active.count)/\(wave.nodes.count) prepared" : "\(t.active.count)/\(wave.nodes.count) active"
        let counts = "\(answered), \(t.refused.count) refused, \(missing.count) missing"
        // The last wave has no next one for its gates to hold back: once proven, the version is active or incomplete,
        // as a plain deploy is. Its prepare (two-phase) is gated: a failed gate there means nobody swaps.
        let last = i == r.waves.count - 1
        if !last || preparing, let failure = gateFailure(wave, refused: t.refused, missing: missing, in: d) {
            r.waves[i].decidedAt = now
            r.waves[i].failure = failure
            setRollout(version, r)
            return abort(version, reason: "\(waveName(r, i)) failed its gates: \(failure)", now: now)
        }
        var actions: [Action] = []
        if preparing {
            actions.append(audit(version, "prepared", "\(waveName(r, i)): \(counts); gates hold"))
            if r.activation == .automatic && !r.paused {
                return actions + activate(version, nodes: t.prepared, lead: nil, now: now)
            }
            r.step = .prepared
            setRollout(version, r)
            let waiting =
                r.activation == .manual
                ? "waiting for `benctl activate \(version.rawValue)`" : "paused: the activation waits for `benctl rollout resume`"
            return actions + persisting(version) + [audit(version, "waiting", waiting)]
        }
        r.waves[i].decidedAt = now
        actions.append(audit(version, "proven", "\(waveName(r, i)): \(counts)" + (last ? "" : "; gates hold (\(describe(wave.gates)))")))
        if last {
            r.step = .finished
            setRollout(version, r)
            actions += persisting(version)
            guard versions[version]?.status == .deploying else { return actions }
            let left = d.missing
            if left.isEmpty { return actions + finishIfComplete(version, now: now) }
            return actions
                + transition(
                    version, to: .incomplete, now: now, detail: "rollout finished: \(left.count) of \(d.required.count) nodes missing")
                + [.stopSeeding(version)]
        }
        guard wave.bake > .zero else {
            setRollout(version, r)
            return actions + passWave(version, now: now)
        }
        let until = now + wave.bake
        r.step = .baking(until: until)
        setRollout(version, r)
        return actions + persisting(version) + [
            audit(version, "baking", "\(waveName(r, i)) bakes \(wave.bake.secondsText), until \(until.rfc3339)"),
            .armTimer(.bake(version), at: until),
        ]
    }

    /// The gate a wave fails, in words, or nil when every gate holds.
    func gateFailure(_ wave: RolloutRecord.Wave, refused: [NodeID], missing: [NodeID], in d: DeploymentRecord) -> String? {
        func named(_ nodes: [NodeID], _ reason: (NodeID) -> String) -> String {
            let shown = nodes.sorted().prefix(3).map { "\($0): \(reason($0))" }
            return shown.joined(separator: "; ") + (nodes.count > 3 ? "; and \(nodes.count - 3) more" : "")
        }
        if refused.count > wave.gates.maxRefusals {
            return
                "\(refused.count) refused, more than max_refusals \(wave.gates.maxRefusals) (\(named(refused) { d.acks[$0]?.reason ?? "" }))"
        }
        if missing.count > wave.gates.maxMissing {
            let reasons = d.missing
            return
                "\(missing.count) missing, more than max_missing \(wave.gates.maxMissing) (\(named(missing) { reasons[$0]?.text ?? "no answer" }))"
        }
        return nil
    }

    func alertFailure(_ r: RolloutRecord) -> String? {
        let wave = r.waves[r.current]
        guard let max = wave.gates.maxAlerts else { return nil }
        let raised = wave.nodes.compactMap { node in r.alerts[node].map { (node, $0) } }.filter { $0.1 > 0 }
        let total = raised.reduce(0) { $0 + $1.1 }
        guard total > max else { return nil }
        let shown = raised.sorted { $0.0 < $1.0 }.prefix(3).map { "\($0.0): \($0.1)" }.joined(separator: ", ")
        return
            "\(total) alert\(total == 1 ? "" : "s") from the version's own detectors during the bake, more than max_alerts \(max) (\(shown))"
    }

    func describe(_ gates: RolloutPolicy.Gates) -> String {
        "max_refusals \(gates.maxRefusals), max_missing \(gates.maxMissing)" + (gates.maxAlerts.map { ", max_alerts \($0)" } ?? "")
    }

    // MARK: Bake and the next wave

    /// A wave's bake is over.
    public mutating func onTimer(_ timer: Timer, now: Timestamp) -> [Action] {
        switch timer {
        case .bake(let version):
            guard versions[version]?.status == .deploying, let r = rollout(of: version), case .baking(let until) = r.step else { return [] }
            guard now >= until else { return [.armTimer(.bake(version), at: until)] }
            return passWave(version, now: now)
        }
    }

    /// The current wave baked (or needs no bake): its gates are checked again, with the alerts raised meanwhile and
    /// any refusal that came late, then the next wave starts, unless the rollout is paused.
    mutating func passWave(_ version: Version, now: Timestamp) -> [Action] {
        guard let d = versions[version]?.deployment, var r = d.rollout else { return [] }
        let i = r.current
        let t = tally(r.waves[i], in: d)
        let missing = t.silent + t.prepared
        if let failure = alertFailure(r) ?? gateFailure(r.waves[i], refused: t.refused, missing: missing, in: d) {
            r.waves[i].failure = failure
            setRollout(version, r)
            return abort(version, reason: "\(waveName(r, i)) failed its gates after its bake: \(failure)", now: now)
        }
        r.waves[i].passedAt = now
        let alerts = r.waves[i].gates.maxAlerts.map { _ in ", \(r.alerts.values.reduce(0, +)) alerts" } ?? ""
        let passed = audit(
            version, "passed", "\(waveName(r, i)) passed its gates\(r.waves[i].bake > .zero ? " after its bake" : "")\(alerts)")
        if r.paused {
            r.step = .holding
            setRollout(version, r)
            return persisting(version) + [
                passed, audit(version, "holding", "paused: \(waveName(r, i + 1)) waits for `benctl rollout resume \(version.rawValue)`"),
            ]
        }
        setRollout(version, r)
        return [passed] + startNextWave(version, now: now)
    }

    mutating func startNextWave(_ version: Version, now: Timestamp) -> [Action] {
        guard var r = rollout(of: version), r.current + 1 < r.waves.count else { return [] }
        r.current += 1
        r.step = .rolling
        r.deadline = nil
        r.alerts = [:]
        r.waves[r.current].startedAt = now
        setRollout(version, r)
        let wave = r.waves[r.current]
        return persisting(version) + [
            audit(version, "wave", "\(waveName(r, r.current)) starts: \(wave.nodes.count) node\(wave.nodes.count == 1 ? "" : "s")"),
            .planWave(version, wave: r.current, nodes: wave.nodes),
        ]
    }

    /// The shell planned the wave `.planWave` asked for: the version is announced again (same version and manifest,
    /// the wave's plan, a new deadline) and seeded down that plan. Nodes of earlier waves have answered already;
    /// nodes of later waves that pull from the store are told they are not targets.
    public mutating func onWavePlanned(
        _ version: Version, wave: Int, plan: Plan, planKey: Key, ledgerAddress: String, estimate: PlanEstimate,
        leftOut: [NodeID: MissingReason], now: Timestamp
    ) -> [Action] {
        guard var record = versions[version], record.status == .deploying, var d = record.deployment, let r = d.rollout, r.current == wave,
            r.step == .rolling, plan.version == version, plan.fleet == fleet
        else { return [] }
        let deadline = now + (r.waveTimeout ?? settings.deadlines.timeout(for: estimate, bundleSize: record.bundleSize))
        d.announcement = Announcement(
            fleet: fleet, version: version, manifest: record.manifest, manifestSize: record.manifestSize, plan: planKey,
            topology: plan.topology,
            issuedAt: now, deadline: deadline, expires: deadline + settings.announcementLifetime, ledger: ledgerAddress,
            twoPhase: r.activation.isTwoPhase)
        for (node, reason) in leftOut where d.required.contains(node) { d.hints[node] = reason }
        record.deployment = d
        versions[version] = record
        var actions: [Action] = [
            .persist(record), announcing(d.announcement, wave: wave, of: r), .stopSeeding(version), .startSeeding(version, plan: planKey),
        ]
        actions.append(.armDeadline(version, at: deadline))
        // A wave whose nodes all answered already (they hold the version from an earlier attempt) is decided now.
        return actions + advanceRollout(version, now: now)
    }

    // MARK: Two-phase activation

    /// Sends the signed activation to the prepared `nodes` of the current wave: each swaps at the barrier.
    mutating func activate(_ version: Version, nodes: [NodeID], lead: Duration?, now: Timestamp) -> [Action] {
        guard let record = versions[version], var r = record.deployment?.rollout else { return [] }
        let barrier = now + (lead ?? settings.activationLead)
        r.step = .activating(barrier: barrier)
        r.barrier = barrier
        r.deadline = barrier + settings.activationWindow
        setRollout(version, r)
        let activation = Activation(fleet: fleet, version: version, manifest: record.manifest, barrier: barrier, issuedAt: now)
        return persisting(version) + [
            audit(
                version, "activation",
                "\(nodes.count) prepared node\(nodes.count == 1 ? "" : "s") of \(waveName(r, r.current)) swap at \(barrier.rfc3339)"),
            .publishActivation(activation), .armDeadline(version, at: r.deadline!),
        ]
    }

    /// `benctl activate V`: sends the activation of a two-phase rollout. Refused before every node of the wave has
    /// prepared unless `partial`. Asked again later (status `incomplete`, or a wave baking), it sends a new
    /// activation for the nodes that prepared and did not swap; nodes already active ignore it.
    public mutating func onActivate(_ version: Version, lead: Duration?, partial: Bool, now: Timestamp) -> Result<[Action], RolloutRefusal>
    {
        guard let record = versions[version], let d = record.deployment else { return .failure(.unknownVersion(version)) }
        guard let r = d.rollout, r.activation.isTwoPhase else { return .failure(.notTwoPhase(version)) }
        guard record.status == .deploying || record.status == .incomplete else { return .failure(.notInProgress(version, record.status)) }
        let t = tally(r.waves[r.current], in: d)
        let stragglers = r.waves.prefix(r.current + 1).flatMap(\.nodes).filter { d.acks[$0]?.status == .prepared }
        switch r.step {
        case .prepared:
            return .success(activate(version, nodes: t.prepared, lead: lead, now: now))
        case .rolling:
            guard partial || t.silent.isEmpty else { return .failure(.notPrepared(version, t.silent.sorted())) }
            return .success(
                [audit(version, "activate", "by the operator, with \(t.silent.count) node(s) of \(waveName(r, r.current)) not prepared")]
                    + activate(version, nodes: t.prepared, lead: lead, now: now))
        case .aborted:
            return .failure(.notInProgress(version, record.status))
        case .activating, .baking, .holding, .finished:
            guard !stragglers.isEmpty else { return .failure(.nothingToActivate(version)) }
            var again = r
            let barrier = now + (lead ?? settings.activationLead)
            again.barrier = barrier
            if case .activating = r.step {
                again.step = .activating(barrier: barrier)
                again.deadline = barrier + settings.activationWindow
            }
            setRollout(version, again)
            var actions =
                persisting(version) + [
                    audit(
                        version, "activation",
                        "again, for \(stragglers.count) node(s) that prepared and did not swap, at \(barrier.rfc3339)"),
                    .publishActivation(
                        Activation(fleet: fleet, version: version, manifest: record.manifest, barrier: barrier, issuedAt: now)),
                ]
            if let deadline = again.deadline, case .activating = again.step { actions.append(.armDeadline(version, at: deadline)) }
            return .success(actions)
        }
    }

    // MARK: Alerts

    /// A node reported `count` alerts raised by its active version's own detectors since it swapped it in. During a
    /// wave's bake they count against its `max_alerts` gate; one over the gate aborts the rollout at once.
    public mutating func onAlerts(_ version: Version, node: NodeID, count: Int, now: Timestamp) -> [Action] {
        guard versions[version]?.status == .deploying, var r = rollout(of: version), r.waves[r.current].nodes.contains(node) else {
            return []
        }
        switch r.step {
        case .rolling, .activating, .baking: break
        default: return []
        }
        guard r.alerts[node] != count else { return [] }
        r.alerts[node] = count
        setRollout(version, r)
        guard case .baking = r.step, let failure = alertFailure(r) else { return [] }
        r.waves[r.current].failure = failure
        setRollout(version, r)
        return abort(version, reason: "\(waveName(r, r.current)) failed its gates during its bake: \(failure)", now: now)
    }

    // MARK: Pause, resume, abort

    /// `benctl rollout pause V`: no further wave starts and no automatic activation goes out until resumed; the wave in progress
    /// finishes.
    public mutating func onPause(_ version: Version, now: Timestamp) -> Result<[Action], RolloutRefusal> {
        guard let record = versions[version], let d = record.deployment else { return .failure(.unknownVersion(version)) }
        guard record.status == .deploying else { return .failure(.notInProgress(version, record.status)) }
        guard var r = d.rollout else { return .failure(.noWaves(version)) }
        guard !r.paused else { return .success([]) }
        r.paused = true
        setRollout(version, r)
        return .success(
            persisting(version) + [
                audit(
                    version, "pause",
                    "by the operator, in \(waveName(r, r.current)) (\(r.step)); no further wave starts until `benctl rollout resume \(version.rawValue)`"
                )
            ])
    }

    /// `benctl rollout resume V`: the next wave starts (or the held activation goes out) once the current wave has passed.
    public mutating func onResume(_ version: Version, now: Timestamp) -> Result<[Action], RolloutRefusal> {
        guard let record = versions[version], let d = record.deployment else { return .failure(.unknownVersion(version)) }
        guard record.status == .deploying else { return .failure(.notInProgress(version, record.status)) }
        guard var r = d.rollout else { return .failure(.noWaves(version)) }
        guard r.paused else { return .success([]) }
        r.paused = false
        setRollout(version, r)
        var actions = persisting(version) + [audit(version, "resume", "by the operator, in \(waveName(r, r.current)) (\(r.step))")]
        switch r.step {
        case .holding:
            actions += startNextWave(version, now: now)
        case .prepared where r.activation == .automatic:
            actions += activate(version, nodes: tally(r.waves[r.current], in: d).prepared, lead: nil, now: now)
        default:
            break
        }
        return .success(actions)
    }

    /// `benctl rollout abort V`: no further wave starts, and the nodes already reached stay or are rolled back as the
    /// policy says.
    public mutating func onAbort(_ version: Version, reason: String, now: Timestamp) -> Result<[Action], RolloutRefusal> {
        guard let record = versions[version], record.deployment != nil else { return .failure(.unknownVersion(version)) }
        guard record.status == .deploying else { return .failure(.notInProgress(version, record.status)) }
        return .success(abort(version, reason: reason, now: now))
    }

    /// Stops the rollout: the version becomes `aborted`, seeding stops, and with `on_failure: rollback` the nodes it
    /// reached (all but those that refused it or only prepared it) get a new version carrying the previous content.
    mutating func abort(_ version: Version, reason: String, now: Timestamp) -> [Action] {
        guard var record = versions[version], var d = record.deployment else { return [] }
        var actions: [Action] = []
        if var r = d.rollout {
            r.step = .aborted(reason: reason)
            d.rollout = r
            record.deployment = d
            versions[version] = record
        }
        actions.append(audit(version, "abort", reason))
        // The alarm goes out with the abort: a prepared node (or one that took an activation whose barrier is still
        // ahead) must not swap the version in now.
        actions +=
            transition(version, to: .aborted, now: now, detail: reason) + [
                .stopSeeding(version), .publishAlarm(Alarm(fleet: fleet, version: version, reason: reason, issuedAt: now)),
            ]
        guard let r = d.rollout, r.onFailure == .rollback else { return actions }
        let onVersion = r.waves.prefix(r.current + 1).flatMap(\.nodes).filter {
            d.acks[$0]?.status != .refused && d.acks[$0]?.status != .prepared
        }.sorted()
        guard let previous = r.previous else {
            return actions + [
                audit(
                    version, "rollback", "no version was active before \(version): nothing to roll back to; the nodes it reached stay on it"
                )
            ]
        }
        guard !onVersion.isEmpty else {
            return actions + [audit(version, "rollback", "no node it reached runs \(version): nothing to roll back")]
        }
        return actions + [
            audit(
                version, "rollback",
                "\(onVersion.count) node\(onVersion.count == 1 ? " it reached gets" : "s it reached get") \(previous)'s content as a new version"
            ),
            .rollBack(version, to: previous, nodes: onVersion),
        ]
    }

    /// The shell staged and deployed the rollback `.rollBack` asked for, as `rollback`.
    public mutating func onRolledBack(_ version: Version, as rollback: Version) -> [Action] {
        guard var r = rollout(of: version) else { return [] }
        r.rollback = rollback
        setRollout(version, r)
        return persisting(version)
    }
}

/// Why a rollout control request (activate, pause, resume, abort) was refused, in the operator's terms.
public enum RolloutRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownVersion(Version)
    case notInProgress(Version, VersionStatus)
    case notTwoPhase(Version)
    case noWaves(Version)
    case notPrepared(Version, [NodeID])
    case nothingToActivate(Version)

    /// The refusal, in the operator's terms.
    public var description: String {
        switch self {
        case .unknownVersion(let v): "\(v) was never deployed; `benctl versions` lists them"
        case .notInProgress(let v, let s): "\(v) is \(s); only a rollout in progress can be changed"
        case .notTwoPhase(let v):
            "\(v) was not deployed with --prepare or --two-phase: its nodes swap as they finish, there is nothing to activate"
        case .noWaves(let v):
            "\(v) was deployed without a rollout policy or two-phase activation: there is no wave to hold; `benctl rollout abort \(v.rawValue)` stops it"
        case .notPrepared(let v, let nodes):
            "\(nodes.count) node\(nodes.count == 1 ? " has" : "s have") not prepared \(v) yet (\(nodes.prefix(5).map(\.rawValue).joined(separator: ", "))\(nodes.count > 5 ? ", …" : "")); "
                + "wait (`benctl status \(v.rawValue)`), or pass --partial to activate the nodes that have"
        case .nothingToActivate(let v): "every node that prepared \(v) has swapped it in already; nothing to activate"
        }
    }
}
