public import BenCore

/// The ledger's record of a fleet's versions and the one rule that matters: a version is **active** only once
/// the ledger has verified a signed ack from every required node (DESIGN §6).
///
///     staged ─deploy─▶ deploying ─every required ack─▶ active
///                          │  ▲
///                 deadline │  │ --retry
///                          ▼  │
///                       incomplete
///     any version ─ a newer one becomes active (or an explicit supersede) ─▶ superseded
///
/// A plain value: the ledger shell persists what it returns (SQLite), verifies signatures before calling
/// `onAcks` (the machine checks everything else about an ack), and restores the machine from its tables
/// after a restart. Time comes in as `now`.
public struct DeploymentMachine: Sendable {
    /// The ledger's rollout settings; the defaults are what `ben-ledger` runs with.
    public struct Settings: Sendable, Hashable {
        /// How long after its deadline an announcement stays valid (a node that was down a while can still act).
        public var announcementLifetime: Duration = .seconds(24 * 3600)
        /// How the deadline follows the plan when the operator gives no `--timeout` (see `deadline(for:)`).
        public var deadlines = DeadlinePolicy()
        /// Two-phase: how far ahead of its signing an activation's barrier lies. Every prepared node must have the
        /// activation before its clock reads the barrier, so this covers NATS's fan-out on a busy fleet; a node that
        /// gets it late swaps at once (docs/operations.md, "Two-phase activation").
        public var activationLead: Duration = .seconds(2)
        /// Two-phase: how long after the barrier the ledger waits for the active acks before it decides.
        public var activationWindow: Duration = .seconds(15)

        /// The defaults.
        public init() {}
    }

    /// A deadline that follows the plan: what the plan predicts for the transfer, with room for a network slower
    /// than the topology says, for compiling, and for acks to climb the tree, plus a fixed margin for a busy
    /// machine. A hand-picked timeout that a loaded machine can miss is what this replaces.
    public struct DeadlinePolicy: Sendable, Hashable {
        /// The predicted transfer time is multiplied by this (links are rarely as fast as the topology says).
        public var transferFactor: Double = 3
        /// Compiling and swapping: this much per MB of bundle, plus `compileBase`.
        public var compilePerMB: Duration = .milliseconds(50)
        /// Compiling and swapping take at least this long (see `compilePerMB`).
        public var compileBase: Duration = .seconds(1)
        /// Each level of the ack tree gets this long to pass its aggregate up.
        public var perLevel: Duration = .seconds(1)
        /// Added to everything, for start-up, connection set-up and a busy machine.
        public var margin: Duration = .seconds(10)

        /// The defaults.
        public init() {}

        /// The time from announcement to deadline for a plan predicted to deliver in `estimate.transfer`, over a
        /// tree `estimate.depth` levels deep, for a bundle of `bundleSize` bytes.
        public func timeout(for estimate: PlanEstimate, bundleSize: Int64) -> Duration {
            let transfer = estimate.transfer * transferFactor
            let compile = compileBase + compilePerMB * Int(bundleSize / 1_000_000)
            return margin + transfer + compile + perLevel * max(1, estimate.depth)
        }
    }

    /// What the planner's cost model predicts for a plan: the time until the last node holds the bundle, and
    /// the depth of the deepest stripe tree.
    public struct PlanEstimate: Sendable, Hashable {
        /// Predicted time until the last node holds the bundle.
        public var transfer: Duration
        /// Depth of the deepest stripe tree.
        public var depth: Int

        /// A prediction of `transfer` over trees at most `depth` deep.
        public init(transfer: Duration, depth: Int) {
            self.transfer = transfer
            self.depth = depth
        }

        /// No prediction: the deadline is the policy's fixed parts alone (a one-level tree, no transfer time).
        public static let unknown = PlanEstimate(transfer: .zero, depth: 1)
    }

    /// The fleet this ledger serves.
    public let fleet: FleetName
    /// The rollout settings it runs with.
    public let settings: Settings
    /// Every version the ledger knows, by number.
    public internal(set) var versions: [Version: VersionRecord]

    /// A machine restored from `versions`, as the ledger's tables hold them.
    public init(fleet: FleetName, versions: [VersionRecord] = [], settings: Settings = Settings()) {
        self.fleet = fleet
        self.settings = settings
        self.versions = Dictionary(uniqueKeysWithValues: versions.map { ($0.version, $0) })
    }

    /// The highest version that is active, if any.
    public var activeVersion: Version? {
        versions.values.filter { $0.status == .active }.map(\.version).max()
    }

    /// The version being rolled out, if any (at most one unless superseded explicitly).
    public var deploying: Version? {
        versions.values.filter { $0.status == .deploying }.map(\.version).max()
    }

    /// The highest version staged so far (`.none` before the first).
    public var latestVersion: Version { versions.keys.max() ?? .none }

    /// The highest version ever announced: a new deployment must be above it, or agents would refuse it as a
    /// rollback.
    public var highestAnnounced: Version {
        versions.values.filter { $0.deployment != nil }.map(\.version).max() ?? .none
    }

    // MARK: Stage

    /// Gives a staged manifest a version. Staging content identical to the newest version that was never
    /// deployed returns that version again (nothing new to do); `forceNew` always makes a new version (a
    /// rollback carries old content under a new number).
    public mutating func onStage(manifest: Key, manifestSize: Int64, size: Int64, label: String, forceNew: Bool = false, now: Timestamp)
        -> (version: Version, isNew: Bool, actions: [Action])
    {
        if !forceNew,
            let existing = versions.values.filter({ $0.manifest == manifest && $0.status == .staged }).max(by: { $0.version < $1.version })
        {
            return (existing.version, false, [])
        }
        let version = latestVersion.next
        let record = VersionRecord(
            version: version, manifest: manifest, manifestSize: manifestSize, bundleSize: size, label: label, status: .staged, stagedAt: now
        )
        versions[version] = record
        return (version, true, [.persist(record), .audit(.staged(version, manifest: manifest, label: label))])
    }

    // MARK: Deploy

    /// Starts the rollout of a staged version over `plan`.
    ///
    /// Refused when the version is not staged, is not above every version already announced (agents would
    /// refuse it), or another rollout is in progress and `supersede` is not set.
    /// `timeout` is the operator's; without one the deadline follows `estimate` (`Settings.deadlines`).
    /// `leftOut` are targets the plan could not include (down when it was made, or with no parent under the
    /// limits): they are still required, so the version is active only once they too have acked, and they are
    /// reported missing with that reason until then (a returning node catches up as an orphan).
    /// `rollout`, for a two-phase rollout or one in waves (`DeploymentMachine+Waves.swift`), makes every node of its
    /// waves required and `plan` the first wave's.
    public mutating func onDeploy(
        _ version: Version, plan: Plan, planKey: Key, ledgerAddress: String, timeout: Duration?, estimate: PlanEstimate = .unknown,
        leftOut: [NodeID: MissingReason] = [:], supersede: Bool, rollout: RolloutRecord? = nil, now: Timestamp
    ) -> Result<[Action], DeployRefusal> {
        guard var record = versions[version] else { return .failure(.unknownVersion(version)) }
        guard record.status == .staged else { return .failure(.notStaged(version, record.status)) }
        guard version > highestAnnounced else { return .failure(.notNewer(version, highest: highestAnnounced)) }
        guard plan.version == version, plan.fleet == fleet else { return .failure(.planMismatch) }
        guard !plan.nodes.isEmpty || !leftOut.isEmpty else { return .failure(.noTargets) }
        var actions: [Action] = []
        if let other = deploying {
            guard supersede else { return .failure(.rolloutInProgress(other)) }
            actions += transition(other, to: .superseded, now: now, detail: "superseded by \(version) before it finished")
            actions.append(.stopSeeding(other))
        }
        let deadline = now + (timeout ?? settings.deadlines.timeout(for: estimate, bundleSize: record.bundleSize))
        let announcement = Announcement(
            fleet: fleet, version: version, manifest: record.manifest, manifestSize: record.manifestSize, plan: planKey,
            topology: plan.topology, issuedAt: now, deadline: deadline, expires: deadline + settings.announcementLifetime,
            ledger: ledgerAddress, twoPhase: rollout?.activation.isTwoPhase ?? false)
        record.deployment = DeploymentRecord(
            announcement: announcement, required: Set(plan.nodes.map(\.id)).union(leftOut.keys).union(rollout?.allNodes ?? []),
            hints: leftOut,
            attempt: 1, rollout: rollout)
        versions[version] = record
        var detail = "\(plan.nodes.count) nodes, \(plan.stripeCount) stripes"
        if !leftOut.isEmpty { detail += "; \(leftOut.count) required nodes left out of the plan" }
        if let rollout { detail += "; " + Self.describe(rollout) }
        actions += transition(version, to: .deploying, now: now, detail: detail)
        let announce: Action = rollout.map { announcing(announcement, wave: 0, of: $0) } ?? .publishAnnouncement(announcement)
        actions += [announce, .startSeeding(version, plan: planKey), .armDeadline(version, at: deadline)]
        return .success(actions)
    }

    /// The nodes a `--retry` of `version` goes to: every required node without an active ack, including nodes
    /// that run the version already and whose ack never arrived (they answer again, and nothing is re-sent).
    public func retryTargets(_ version: Version) -> [NodeID] {
        (versions[version]?.deployment?.missing.keys).map { $0.sorted() } ?? []
    }

    /// `deploy V --retry`: announces V again, with a new deadline, to the nodes still missing (`retryTargets`),
    /// over `plan`, and asks each of them by name for the answer it may have made already. Acks already held
    /// stay valid; if none are missing any more, V becomes active at once.
    public mutating func onRetry(
        _ version: Version, plan: Plan, planKey: Key, ledgerAddress: String, timeout: Duration?,
        estimate: PlanEstimate = .unknown, leftOut: [NodeID: MissingReason] = [:], now: Timestamp
    ) -> Result<[Action], DeployRefusal> {
        guard var record = versions[version], var deployment = record.deployment else { return .failure(.unknownVersion(version)) }
        guard record.status == .incomplete else { return .failure(.notIncomplete(version, record.status)) }
        if let other = deploying, other != version { return .failure(.rolloutInProgress(other)) }
        if deployment.rollout?.activation.isTwoPhase == true { return .failure(.twoPhaseRetry(version)) }
        var actions: [Action] = []
        let targets = retryTargets(version)
        if targets.isEmpty {
            actions += transition(version, to: .deploying, now: now, detail: "retry: nothing missing")
            actions += finishIfComplete(version, now: now)
            return .success(actions)
        }
        // The plan may leave out targets known to be down (they catch up as orphans); it adds no one.
        guard Set(plan.nodes.map(\.id)).isSubset(of: targets) else { return .failure(.planMismatch) }
        let deadline = now + (timeout ?? settings.deadlines.timeout(for: estimate, bundleSize: record.bundleSize))
        deployment.announcement = Announcement(
            fleet: fleet, version: version, manifest: record.manifest, manifestSize: record.manifestSize, plan: planKey,
            topology: plan.topology, issuedAt: now, deadline: deadline, expires: deadline + settings.announcementLifetime,
            ledger: ledgerAddress)
        deployment.attempt += 1
        // Refusals are answered again by the retry; reasons learnt last time stay until a fresher one comes.
        for node in deployment.acks.keys where deployment.acks[node]?.status == .refused { deployment.acks[node] = nil }
        for (node, reason) in leftOut { deployment.hints[node] = reason }
        record.deployment = deployment
        versions[version] = record
        actions += transition(version, to: .deploying, now: now, detail: "retry \(deployment.attempt) for \(targets.count) missing nodes")
        actions += [
            .publishAnnouncement(deployment.announcement), .askForAnswers(version, nodes: targets), .startSeeding(version, plan: planKey),
            .armDeadline(version, at: deadline),
        ]
        return .success(actions)
    }

    // MARK: Acks

    /// Acks whose signatures the shell verified against the keys the topology lists for their nodes.
    ///
    /// Each is checked against the deployment: the fleet, the version, the manifest and that the node is
    /// required. Acks that fail are rejected and reported; none of them counts. A duplicate changes nothing.
    public mutating func onAcks(_ acks: [Ack], now: Timestamp) -> [Action] {
        var actions: [Action] = []
        var touched = Set<Version>()
        for ack in acks {
            guard ack.fleet == fleet else {
                actions.append(.report(.ackRejected(node: ack.node, version: ack.version, reason: "for fleet \(ack.fleet)")))
                continue
            }
            guard var record = versions[ack.version], var deployment = record.deployment else {
                actions.append(.report(.ackRejected(node: ack.node, version: ack.version, reason: "no deployment of \(ack.version)")))
                continue
            }
            guard ack.manifest == record.manifest else {
                actions.append(
                    .report(
                        .ackRejected(
                            node: ack.node, version: ack.version, reason: "for manifest \(ack.manifest.short), not \(record.manifest.short)"
                        )))
                continue
            }
            guard deployment.required.contains(ack.node) else {
                actions.append(.report(.ackRejected(node: ack.node, version: ack.version, reason: "not a target of \(ack.version)")))
                continue
            }
            guard ack.status != .prepared || deployment.announcement.twoPhase else {
                actions.append(
                    .report(
                        .ackRejected(node: ack.node, version: ack.version, reason: "a prepared ack, but \(ack.version) is not two-phase")))
                continue
            }
            if let held = deployment.acks[ack.node], held.status == .active || (held.status == ack.status && held.at >= ack.at) {
                continue
            }
            deployment.acks[ack.node] = AckRecord(status: ack.status, reason: ack.reason, at: ack.at)
            deployment.hints[ack.node] = nil
            record.deployment = deployment
            versions[ack.version] = record
            actions.append(.recordAck(ack))
            touched.insert(ack.version)
        }
        for version in touched.sorted() { actions += finishIfComplete(version, now: now) + advanceRollout(version, now: now) }
        return actions
    }

    /// Acks whose signatures did not verify (wrong key, forged, unknown node): logged, never counted.
    public func onUnverifiedAck(node: NodeID?, version: Version?, reason: String) -> [Action] {
        [.report(.ackRejected(node: node, version: version, reason: reason))]
    }

    /// What a relay reported about nodes below it (unreachable, timed out, refused the announcement), from an
    /// aggregate whose signature the shell checked against that relay's key. These explain a missing ack; they
    /// never stand in for one, never replace what a node said itself (any signed ack), and are shown as the
    /// relay's word. Tamper claims are not taken from here: only a victim's signed report names a suspect.
    public mutating func onMissingReports(_ version: Version, _ reports: [Aggregate.Missing], from relay: NodeID = .ledger) -> [Action] {
        guard var record = versions[version], var deployment = record.deployment else { return [] }
        for report in reports where report.reason.code != .tamperedRelay {
            guard deployment.required.contains(report.node), deployment.acks[report.node] == nil else { continue }
            let own = relay == .ledger || relay == report.node
            deployment.hints[report.node] =
                own ? report.reason : MissingReason(report.reason.code, "\(report.reason.detail) (reported by \(relay))")
        }
        record.deployment = deployment
        versions[version] = record
        return []
    }

    /// Victims' reports of relays that served them tampered bytes, each checked by the shell against its
    /// victim's key. The suspect is the relay the victim names: the authenticated peer of the link the bytes came
    /// on. A report from a node outside the rollout counts for nothing.
    public mutating func onTamperReports(_ version: Version, _ reports: [TamperReport]) -> [Action] {
        guard var record = versions[version], var deployment = record.deployment else { return [] }
        var actions: [Action] = []
        for report in reports where report.version == version && deployment.required.contains(report.node) {
            guard deployment.suspects[report.relay] == nil else { continue }
            let detail = "\(report.node) reports: \(report.detail)"
            deployment.suspects[report.relay] = detail
            actions.append(.report(.tamperingRelay(report.relay, version: version, detail: detail)))
        }
        record.deployment = deployment
        versions[version] = record
        return actions
    }

    /// The deadline passed: a version still deploying becomes incomplete, naming every node without an active
    /// ack and why.
    public mutating func onDeadline(_ version: Version, now: Timestamp) -> [Action] {
        guard let record = versions[version], record.status == .deploying, let deployment = record.deployment else { return [] }
        guard now >= deployment.deadline else { return [.armDeadline(version, at: deployment.deadline)] }
        if deployment.rollout != nil { return onRolloutDeadline(version, now: now) }
        let missing = deployment.missing
        return transition(version, to: .incomplete, now: now, detail: "\(missing.count) of \(deployment.required.count) nodes missing")
            + [.stopSeeding(version)]
    }

    /// After a restart: deadlines to re-arm and rollouts to resume seeding; a deadline that passed while the
    /// ledger was down is applied now.
    public mutating func onRestart(now: Timestamp) -> [Action] {
        var actions: [Action] = []
        for version in versions.keys.sorted() {
            guard let record = versions[version], record.status == .deploying, let deployment = record.deployment else { continue }
            if now >= deployment.deadline {
                actions += onDeadline(version, now: now)
            } else {
                actions += [.startSeeding(version, plan: deployment.announcement.plan), .armDeadline(version, at: deployment.deadline)]
            }
            if case .baking(let until) = deployment.rollout?.step { actions.append(.armTimer(.bake(version), at: until)) }
        }
        return actions
    }

    /// Marks a version superseded by hand (`deploy --supersede` does this for a rollout in progress).
    public mutating func onSupersede(_ version: Version, now: Timestamp) -> [Action] {
        guard let record = versions[version], record.status != .superseded else { return [] }
        return transition(version, to: .superseded, now: now, detail: "superseded by the operator") + [.stopSeeding(version)]
    }

    // MARK: Transitions

    /// A version deploying, or one already declared incomplete, becomes active once every required node has
    /// acked it: a verified ack that arrives after the deadline still counts, unless a newer version has
    /// superseded this one.
    mutating func finishIfComplete(_ version: Version, now: Timestamp) -> [Action] {
        guard let record = versions[version], let deployment = record.deployment else { return [] }
        guard record.status == .deploying || record.status == .incomplete else { return [] }
        if deployment.missing.isEmpty {
            var detail = "\(deployment.required.count)/\(deployment.required.count) signed acks verified"
            if now > deployment.deadline {
                detail += ", \((now - deployment.deadline).secondsText) after the deadline"
            }
            // A late one may have pulled from a seeder kept for pulls after the deadline: that stops too.
            return transition(version, to: .active, now: now, detail: detail) + [.stopSeeding(version)]
        }
        // A rollout's waves and gates decide when it ends (`advanceRollout`).
        guard record.status == .deploying, deployment.rollout == nil else { return [] }
        // Everyone answered and some refused: waiting longer changes nothing.
        let answered = deployment.required.allSatisfy { deployment.acks[$0] != nil }
        if answered {
            let refused = deployment.acks.values.filter { $0.status == .refused }.count
            return transition(version, to: .incomplete, now: now, detail: "every node answered; \(refused) refused") + [
                .stopSeeding(version)
            ]
        }
        return []
    }

    mutating func transition(_ version: Version, to status: VersionStatus, now: Timestamp, detail: String) -> [Action] {
        guard var record = versions[version] else { return [] }
        let from = record.status
        record.status = status
        record.changedAt = now
        versions[version] = record
        var actions: [Action] = [.persist(record), .audit(.transition(version, from: from, to: status, detail: detail))]
        if status == .active {
            // An aborted rollout keeps its word: it was stopped, not replaced.
            for older in versions.keys.sorted() where older < version && ![.superseded, .aborted].contains(versions[older]!.status) {
                actions += transition(older, to: .superseded, now: now, detail: "\(version) is active")
            }
        }
        return actions
    }
}

/// Why a deploy was refused, in the operator's terms.
public enum DeployRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownVersion(Version)
    case notStaged(Version, VersionStatus)
    case notIncomplete(Version, VersionStatus)
    case notNewer(Version, highest: Version)
    case rolloutInProgress(Version)
    case planMismatch
    case noTargets
    case twoPhaseRetry(Version)

    /// The refusal, in the operator's terms.
    public var description: String {
        switch self {
        case .unknownVersion(let v): "\(v) does not exist; `benctl versions` lists them"
        case .notStaged(let v, let s): "\(v) is \(s), not staged; to deploy its content again, `benctl rollback --to \(v)`"
        case .notIncomplete(let v, let s): "\(v) is \(s); --retry applies to an incomplete version"
        case .notNewer(let v, let h):
            "\(v) is not above \(h), which was already announced; agents would refuse it as a rollback. Use `benctl rollback --to \(v)`"
        case .rolloutInProgress(let v): "\(v) is still deploying; wait for it, or pass --supersede to abandon it"
        case .planMismatch: "the plan is for another fleet or version"
        case .noTargets: "the plan has no target nodes; check the roles and the topology"
        case .twoPhaseRetry(let v):
            "\(v) is a two-phase rollout, which --retry does not take; `benctl activate \(v)` sends the activation again to nodes that prepared and did not swap"
        }
    }
}
