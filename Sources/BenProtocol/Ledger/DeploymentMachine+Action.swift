public import BenCore

extension DeploymentMachine {
    /// What the deployment machine asks the ledger shell to do.
    public enum Action: Sendable, Hashable {
        /// Write this version's row (status, deployment) durably before anything that depends on it.
        case persist(VersionRecord)
        /// Keep a verified ack that counted (the shell stores the signed envelope it verified).
        case recordAck(Ack)
        /// Append to the hash-chained audit log.
        case audit(AuditEvent)
        /// Sign with the ledger key and publish on `ben.<fleet>.announce` (JetStream keeps the latest).
        case publishAnnouncement(Announcement)
        /// Push the bundle into the stripe trees of this plan (the seeder).
        case startSeeding(Version, plan: Key)
        /// Ask these nodes by name (over NATS) to send again the signed answer they may have made already: their
        /// acks went missing, and a node that runs the version answers without any transfer.
        case askForAnswers(Version, nodes: [NodeID])
        case stopSeeding(Version)
        case armDeadline(Version, at: Timestamp)
        case report(LedgerReport)
        /// A deploy or retry that was refused, and why (only from `handle`; the typed methods return it).
        case refused(DeployRefusal)
        /// Sign with the ledger key and send to each of these nodes by name (`ben.<fleet>.node.<id>.announce`), not to
        /// the fleet: a wave before the last is announced only to its own nodes, so the nodes of later waves never see
        /// the version unless the rollout reaches them.
        case announceTo(Announcement, nodes: [NodeID])
        /// Plan the rollout's next wave over these nodes, and hand the plan back (`.wavePlanned`).
        case planWave(Version, wave: Int, nodes: [NodeID])
        /// Sign with the ledger key (context `ben/activate/v1`) and publish on `ben.<fleet>.activate`: every
        /// prepared node swaps at the barrier. No bundle byte goes anywhere.
        case publishActivation(Activation)
        /// Sign with the ledger key (context `ben/alarm/v1`) and publish on `ben.<fleet>.alarm` and into gossip: the
        /// version's rollout was aborted, and no node that has not swapped it in may do so now.
        case publishAlarm(Alarm)
        case armTimer(Timer, at: Timestamp)
        /// A gate failed (or the operator aborted) under `on_failure: rollback`: stage `to`'s content as a new
        /// version (as `benctl rollback` does) and deploy it to `nodes`, the nodes the aborted rollout reached.
        case rollBack(Version, to: Version, nodes: [NodeID])
        /// A pause, resume, abort or activation that was refused, and why (only from `handle`).
        case rolloutRefused(RolloutRefusal)
    }

    /// The deployment machine's own timers; each comes back as `.timer(_)`.
    public enum Timer: Sendable, Hashable, CustomStringConvertible {
        /// A wave's bake is over: its gates are checked again, and the next wave may start.
        case bake(Version)

        /// The timer in logs.
        public var description: String {
            switch self {
            case .bake(let v): "bake(\(v))"
            }
        }
    }

    /// Everything the ledger tells its deployment machine. Signatures on acks are checked before `.acks`.
    public enum Input: Sendable {
        case stage(manifest: Key, manifestSize: Int64, size: Int64, label: String, forceNew: Bool)
        case deploy(
            Version, plan: Plan, planKey: Key, ledgerAddress: String, timeout: Duration?, estimate: PlanEstimate,
            leftOut: [NodeID: MissingReason], supersede: Bool)
        case retry(
            Version, plan: Plan, planKey: Key, ledgerAddress: String, timeout: Duration?, estimate: PlanEstimate,
            leftOut: [NodeID: MissingReason])
        case acks([Ack])
        case unverifiedAck(node: NodeID?, version: Version?, reason: String)
        /// Claims from an aggregate whose signature verified, by the relay that signed it.
        case missingReports(Version, [Aggregate.Missing], from: NodeID)
        /// Tamper reports whose victims' signatures verified.
        case tamperReports(Version, [TamperReport])
        case deadline(Version)
        case restart
        case supersede(Version)
        /// The shell planned the next wave (`.planWave`).
        case wavePlanned(
            Version, wave: Int, plan: Plan, planKey: Key, ledgerAddress: String, estimate: PlanEstimate, leftOut: [NodeID: MissingReason])
        /// `benctl activate V`: `lead` until the barrier (nil: `Settings.activationLead`); `partial` activates the
        /// nodes that prepared when some did not.
        case activate(Version, lead: Duration?, partial: Bool)
        case pause(Version)
        case resume(Version)
        case abort(Version, reason: String)
        /// A node's heartbeat reported this many alerts raised by its active version's detectors.
        case alerts(Version, node: NodeID, count: Int)
        /// The shell made the automatic rollback `.rollBack` asked for, as this version.
        case rolledBack(Version, as: Version)
        case timer(Timer)
    }

    /// The one entry point, for the simulator and fuzzers: the typed `on…` methods are the same, with their
    /// results (a new version's number, a refusal) returned directly rather than as actions.
    public mutating func handle(_ input: Input, now: Timestamp) -> [Action] {
        switch input {
        case .stage(let manifest, let manifestSize, let size, let label, let forceNew):
            return onStage(manifest: manifest, manifestSize: manifestSize, size: size, label: label, forceNew: forceNew, now: now).actions
        case .deploy(let v, let plan, let planKey, let address, let timeout, let estimate, let leftOut, let supersede):
            switch onDeploy(
                v, plan: plan, planKey: planKey, ledgerAddress: address, timeout: timeout, estimate: estimate, leftOut: leftOut,
                supersede: supersede, now: now)
            {
            case .success(let actions): return actions
            case .failure(let refusal): return [.refused(refusal)]
            }
        case .retry(let v, let plan, let planKey, let address, let timeout, let estimate, let leftOut):
            switch onRetry(
                v, plan: plan, planKey: planKey, ledgerAddress: address, timeout: timeout, estimate: estimate, leftOut: leftOut, now: now)
            {
            case .success(let actions): return actions
            case .failure(let refusal): return [.refused(refusal)]
            }
        case .acks(let acks): return onAcks(acks, now: now)
        case .unverifiedAck(let node, let version, let reason): return onUnverifiedAck(node: node, version: version, reason: reason)
        case .missingReports(let version, let reports, let relay): return onMissingReports(version, reports, from: relay)
        case .tamperReports(let version, let reports): return onTamperReports(version, reports)
        case .deadline(let version): return onDeadline(version, now: now)
        case .restart: return onRestart(now: now)
        case .supersede(let version): return onSupersede(version, now: now)
        case .wavePlanned(let v, let wave, let plan, let planKey, let address, let estimate, let leftOut):
            return onWavePlanned(
                v, wave: wave, plan: plan, planKey: planKey, ledgerAddress: address, estimate: estimate, leftOut: leftOut, now: now)
        case .activate(let v, let lead, let partial): return refusing(onActivate(v, lead: lead, partial: partial, now: now))
        case .pause(let v): return refusing(onPause(v, now: now))
        case .resume(let v): return refusing(onResume(v, now: now))
        case .abort(let v, let reason): return refusing(onAbort(v, reason: reason, now: now))
        case .alerts(let v, let node, let count): return onAlerts(v, node: node, count: count, now: now)
        case .rolledBack(let v, let rollback): return onRolledBack(v, as: rollback)
        case .timer(let timer): return onTimer(timer, now: now)
        }
    }

    private func refusing(_ result: Result<[Action], RolloutRefusal>) -> [Action] {
        switch result {
        case .success(let actions): actions
        case .failure(let refusal): [.rolloutRefused(refusal)]
        }
    }
}
