public import BenCore

/// Everything about a rollout beyond its announcement: whether nodes swap on arrival or at the ledger's signed
/// activation (two-phase), and its waves, with where it stands (DESIGN §9). Part of the deployment record, persisted
/// with it; nil for a plain deploy, which is one wave that swaps on arrival.
///
///     rolling ─every node of the wave answered, or its deadline─▶ gates ─hold─▶ baking ─bake over, gates hold─▶ next wave
///        │ two-phase: answers are `prepared` acks                   │ fail            │ paused: holding until resume
///        ▼                                                            ▼                 ▼
///     prepared (manual: waits for `benctl activate`) ─▶ activating(barrier) ─active acks─▶ gates …        aborted
///
/// The last wave, once decided, finishes the rollout: the version is active when every required node's active ack
/// is held (as always), incomplete otherwise.
public struct RolloutRecord: Sendable, Hashable {
    /// How nodes swap the version in.
    public enum Activation: String, Sendable, Hashable, CaseIterable {
        /// Each node swaps as soon as it has compiled (one phase).
        case onArrival = "on_arrival"
        /// `deploy --prepare`: nodes prepare; the operator's `benctl activate V` sends the activation.
        case manual
        /// `deploy --two-phase`: the ledger sends the activation once every node of the wave has prepared.
        case automatic

        /// True for `manual` and `automatic`: nodes prepare, then swap at the activation's barrier.
        public var isTwoPhase: Bool { self != .onArrival }
    }

    /// One wave of the rollout, resolved to its nodes, with when it started, was decided and passed.
    public struct Wave: Sendable, Hashable {
        /// The wave's name, from the policy.
        public var name: String
        /// In id order.
        public var nodes: [NodeID]
        /// How long it bakes once proven.
        public var bake: Duration
        /// What it must show before the next wave starts.
        public var gates: RolloutPolicy.Gates
        /// When it was announced to its nodes.
        public var startedAt: Timestamp?
        /// When every node of it had answered (or its deadline passed) and its gates were checked.
        public var decidedAt: Timestamp?
        /// When it passed its gates after its bake (the next wave may start).
        public var passedAt: Timestamp?
        /// The gate it failed, in words.
        public var failure: String?

        /// A wave.
        public init(
            name: String, nodes: [NodeID], bake: Duration = .zero, gates: RolloutPolicy.Gates = .init(), startedAt: Timestamp? = nil,
            decidedAt: Timestamp? = nil, passedAt: Timestamp? = nil, failure: String? = nil
        ) {
            self.name = name
            self.nodes = nodes
            self.bake = bake
            self.gates = gates
            self.startedAt = startedAt
            self.decidedAt = decidedAt
            self.passedAt = passedAt
            self.failure = failure
        }
    }

    /// Where the current wave stands.
    public enum Step: Sendable, Hashable, CustomStringConvertible {
        /// Announced to the wave: waiting for its nodes' answers (`prepared` ones when two-phase).
        case rolling
        /// Every node of the wave prepared (or its deadline passed): waiting for `benctl activate` (manual), or for
        /// `resume` (automatic, paused).
        case prepared
        /// The activation went out; every prepared node swaps at `barrier`.
        case activating(barrier: Timestamp)
        /// The wave is proven and its gates held; it runs the version until `until`.
        case baking(until: Timestamp)
        /// Baked and passed, but the rollout is paused: the next wave waits for `resume`.
        case holding
        /// The last wave was decided.
        case finished
        /// A gate failed, or the operator aborted: no further wave starts.
        case aborted(reason: String)

        /// The step's name, as status shows it.
        public var name: String {
            switch self {
            case .rolling: "rolling"
            case .prepared: "prepared"
            case .activating: "activating"
            case .baking: "baking"
            case .holding: "holding"
            case .finished: "finished"
            case .aborted: "aborted"
            }
        }

        /// The step's name.
        public var description: String { name }
    }

    /// How nodes swap the version in.
    public var activation: Activation
    /// Every wave, in order.
    public var waves: [Wave]
    /// The wave being rolled out (the last one started).
    public var current: Int
    /// Where the current wave stands.
    public var step: Step
    /// Set by `benctl rollout pause`: no further wave starts (and no automatic activation goes out) until resumed.
    public var paused: Bool
    /// What a failed gate does to the nodes already on the version.
    public var onFailure: RolloutPolicy.OnFailure
    /// The version that was active when the rollout began: what an automatic rollback restores.
    public var previous: Version?
    /// The operator's `--timeout`, applied to each wave; nil lets each wave's deadline follow its plan.
    public var waveTimeout: Duration?
    /// The deadline of the step in progress when it is not the announcement's (the activation's).
    public var deadline: Timestamp?
    /// The last activation's barrier.
    public var barrier: Timestamp?
    /// Alerts the current wave's nodes reported (latest count from each, since it swapped the version in).
    public var alerts: [NodeID: Int]
    /// The version an automatic rollback made, once made.
    public var rollback: Version?

    /// A rollout record.
    public init(
        activation: Activation, waves: [Wave], current: Int = 0, step: Step = .rolling, paused: Bool = false,
        onFailure: RolloutPolicy.OnFailure = .stay, previous: Version? = nil, waveTimeout: Duration? = nil, deadline: Timestamp? = nil,
        barrier: Timestamp? = nil, alerts: [NodeID: Int] = [:], rollback: Version? = nil
    ) {
        self.activation = activation
        self.waves = waves
        self.current = current
        self.step = step
        self.paused = paused
        self.onFailure = onFailure
        self.previous = previous
        self.waveTimeout = waveTimeout
        self.deadline = deadline
        self.barrier = barrier
        self.alerts = alerts
        self.rollback = rollback
    }

    /// Every node of every wave: the rollout's required nodes.
    public var allNodes: Set<NodeID> { Set(waves.flatMap(\.nodes)) }

    /// Nodes of the waves started so far: the only ones the ledger's store serves, and the only ones told to swap.
    public var reached: Set<NodeID> { Set(waves.prefix(current + 1).flatMap(\.nodes)) }

    /// True once the last wave was decided or the rollout was aborted.
    public var isDone: Bool {
        switch step {
        case .finished, .aborted: true
        default: false
        }
    }

    /// The wave a node belongs to.
    public func wave(of node: NodeID) -> Int? { waves.firstIndex { $0.nodes.contains(node) } }

    /// Why a required node without an active ack is missing, when the rollout knows better than the deployment:
    /// its wave has not started, the rollout was aborted before it, or it prepared and did not swap.
    public func missingReason(_ node: NodeID, ack: AckRecord?, version: Version) -> MissingReason? {
        if let w = wave(of: node), w > current {
            let wave = waves[w]
            if case .aborted(let reason) = step {
                return MissingReason(
                    .aborted, "the rollout stopped before wave \(w + 1) (\(wave.name)): \(reason); it never received \(version)")
            }
            return MissingReason(.pending, "wave \(w + 1) (\(wave.name)) has not started")
        }
        if let ack, ack.status == .prepared {
            let activation = barrier.map { "the activation for \($0.clockTime)" } ?? "no activation was sent"
            return MissingReason(
                .prepared, "prepared at \(ack.at.clockTime), no signed active ack after \(activation); it serves its previous version")
        }
        return nil
    }
}

extension DeploymentRecord {
    /// When the step in progress is decided: the activation's deadline while activating, else the announcement's.
    public var deadline: Timestamp { rollout?.deadline ?? announcement.deadline }

    /// Nodes the ledger's store serves and confirms as targets: every required node, or with waves those of the
    /// waves started so far (a node of a later wave that pulls is told it is not a target).
    public var reachable: Set<NodeID> { rollout.map(\.reached) ?? required }
}
