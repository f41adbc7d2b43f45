/// Where a two-phase rollout or one in waves stands, as `benctl status` shows it (the `rollout` member of the status
/// verb's answer): its step, each wave with its nodes counted by what they answered, and the activation's barrier.
public struct RolloutStatus: Sendable, Hashable {
    /// One wave as the ledger reports it: its state and its nodes counted by what they answered.
    public struct Wave: Sendable, Hashable {
        /// The wave's name, from the policy.
        public var name: String
        /// pending, rolling, prepared, activating, baking, holding, passed, failed or finished.
        public var state: String
        /// How many nodes the wave takes.
        public var nodes: Int
        /// Nodes of the wave whose signed `active` ack the ledger holds.
        public var active: Int
        /// Nodes of the wave that prepared (two-phase) and have not swapped yet.
        public var prepared: Int
        /// Nodes of the wave that refused the version, signed.
        public var refused: Int
        /// Alerts the wave's nodes reported during its bake (when it has an alert gate).
        public var alerts: Int
        /// How long the wave bakes once proven, before its gates are checked again.
        public var bake: Duration
        /// When the wave was announced to its nodes.
        public var startedAt: Timestamp?
        /// When every node of it had answered (or its deadline passed) and its gates were checked.
        public var decidedAt: Timestamp?
        /// When it passed its gates after its bake.
        public var passedAt: Timestamp?
        /// The gate it failed, in words.
        public var failure: String?

        /// A wave's report, as the ledger builds it.
        public init(
            name: String, state: String, nodes: Int, active: Int, prepared: Int, refused: Int, alerts: Int = 0, bake: Duration = .zero,
            startedAt: Timestamp? = nil, decidedAt: Timestamp? = nil, passedAt: Timestamp? = nil, failure: String? = nil
        ) {
            self.name = name
            self.state = state
            self.nodes = nodes
            self.active = active
            self.prepared = prepared
            self.refused = refused
            self.alerts = alerts
            self.bake = bake
            self.startedAt = startedAt
            self.decidedAt = decidedAt
            self.passedAt = passedAt
            self.failure = failure
        }
    }

    /// on_arrival, manual or automatic.
    public var activation: String
    /// rolling, prepared, activating, baking, holding, finished or aborted.
    public var step: String
    /// Why it was aborted.
    public var reason: String?
    /// Set by `benctl rollout pause`: no further wave starts until `benctl rollout resume`.
    public var paused: Bool
    /// The wave in progress, from 1.
    public var current: Int
    /// `stay` or `rollback`: what a failed gate does to nodes already on the version.
    public var onFailure: String
    /// The barrier of the last activation (two-phase).
    public var barrier: Timestamp?
    /// When the current wave's bake ends, while it bakes.
    public var bakeUntil: Timestamp?
    /// The version an automatic rollback made.
    public var rollback: Version?
    /// The latest swap minus the earliest among the current wave's signed active acks (each node's own clock), once
    /// two-phase nodes swapped.
    public var activationSpread: Duration?
    /// Every wave, in order.
    public var waves: [Wave]

    /// A rollout's report, as the ledger builds it.
    public init(
        activation: String, step: String, reason: String? = nil, paused: Bool, current: Int, onFailure: String, barrier: Timestamp? = nil,
        bakeUntil: Timestamp? = nil, rollback: Version? = nil, activationSpread: Duration? = nil, waves: [Wave]
    ) {
        self.activation = activation
        self.step = step
        self.reason = reason
        self.paused = paused
        self.current = current
        self.onFailure = onFailure
        self.barrier = barrier
        self.bakeUntil = bakeUntil
        self.rollback = rollback
        self.activationSpread = activationSpread
        self.waves = waves
    }

    static let fields: Set<String> = [
        "activation", "step", "reason", "paused", "current", "on_failure", "barrier", "bake_until", "rollback", "activation_spread_ms",
        "waves",
    ]
    static let waveFields: Set<String> = [
        "name", "state", "nodes", "active", "prepared", "refused", "alerts", "bake_ms", "started_at", "decided_at", "passed_at", "failure",
    ]

    init(reading r: FieldReader) throws(DocumentError) {
        activation = try r.string("activation")
        step = try r.string("step")
        reason = r.has("reason") ? try r.string("reason") : nil
        paused = try r.bool("paused")
        current = Int(try r.int("current"))
        onFailure = try r.string("on_failure")
        barrier = r.has("barrier") ? try r.timestamp("barrier") : nil
        bakeUntil = r.has("bake_until") ? try r.timestamp("bake_until") : nil
        rollback = r.has("rollback") ? try r.version("rollback") : nil
        activationSpread = r.has("activation_spread_ms") ? .milliseconds(try r.int("activation_spread_ms")) : nil
        waves = try r.objects("waves", allowed: Self.waveFields) { (w) throws(DocumentError) -> Wave in
            Wave(
                name: try w.string("name"), state: try w.string("state"), nodes: Int(try w.int("nodes")), active: Int(try w.int("active")),
                prepared: Int(try w.int("prepared")), refused: Int(try w.int("refused")), alerts: Int(try w.int("alerts")),
                bake: .milliseconds(try w.int("bake_ms")), startedAt: w.has("started_at") ? try w.timestamp("started_at") : nil,
                decidedAt: w.has("decided_at") ? try w.timestamp("decided_at") : nil,
                passedAt: w.has("passed_at") ? try w.timestamp("passed_at") : nil,
                failure: w.has("failure") ? try w.string("failure") : nil)
        }
    }

    var json: JSONValue {
        var o: [String: JSONValue] = [
            "activation": .string(activation), "step": .string(step), "paused": .bool(paused), "current": .int(Int64(current)),
            "on_failure": .string(onFailure),
            "waves": .array(
                waves.map { w in
                    var wave: [String: JSONValue] = [
                        "name": .string(w.name), "state": .string(w.state), "nodes": .int(Int64(w.nodes)), "active": .int(Int64(w.active)),
                        "prepared": .int(Int64(w.prepared)), "refused": .int(Int64(w.refused)), "alerts": .int(Int64(w.alerts)),
                        "bake_ms": .int(w.bake.milliseconds),
                    ]
                    if let t = w.startedAt { wave["started_at"] = .string(t.rfc3339) }
                    if let t = w.decidedAt { wave["decided_at"] = .string(t.rfc3339) }
                    if let t = w.passedAt { wave["passed_at"] = .string(t.rfc3339) }
                    if let f = w.failure { wave["failure"] = .string(f) }
                    return .object(wave)
                }),
        ]
        if let reason { o["reason"] = .string(reason) }
        if let barrier { o["barrier"] = .string(barrier.rfc3339) }
        if let bakeUntil { o["bake_until"] = .string(bakeUntil.rfc3339) }
        if let rollback { o["rollback"] = .int(Int64(rollback.rawValue)) }
        if let activationSpread { o["activation_spread_ms"] = .int(activationSpread.milliseconds) }
        return .object(o)
    }
}

/// One location's share of a rollout (`benctl status --watch` draws progress by location).
public struct LocationProgress: Sendable, Hashable {
    /// region/zone (racks are summed into their zone).
    public var location: String
    /// Required nodes there.
    public var required: Int
    /// Of them, nodes whose signed `active` ack the ledger holds.
    public var active: Int
    /// Of them, nodes that prepared and have not swapped.
    public var prepared: Int
    /// Of them, nodes that refused the version.
    public var refused: Int

    /// One location's counts.
    public init(location: String, required: Int, active: Int, prepared: Int, refused: Int) {
        self.location = location
        self.required = required
        self.active = active
        self.prepared = prepared
        self.refused = refused
    }

    static let fields: Set<String> = ["location", "required", "active", "prepared", "refused"]

    var json: JSONValue {
        [
            "location": .string(location), "required": .int(Int64(required)), "active": .int(Int64(active)),
            "prepared": .int(Int64(prepared)),
            "refused": .int(Int64(refused)),
        ]
    }
}

extension RolloutStatus {
    /// Where the rollout stands, for the one-line summary: "wave 1/2 (canary) baking until 12:00:05",
    /// "17/18 prepared, waiting for `benctl activate 3`", "aborted: wave 1 (canary) failed its gates: …". Nil once
    /// there is nothing to add (a finished rollout is its version's status).
    public func summary(status: String) -> String? {
        guard current >= 1, current <= waves.count else { return nil }
        let wave = waves[current - 1]
        let which = waves.count > 1 ? "wave \(current)/\(waves.count) (\(wave.name)) " : ""
        var text: String
        switch step {
        case "aborted": return "aborted: \(reason ?? "")"
        case "finished": return nil
        case "rolling":
            text =
                activation == "on_arrival" ? "\(which)rolling" : "\(which)preparing: \(wave.prepared + wave.active)/\(wave.nodes) prepared"
        case "prepared":
            text =
                "\(which)\(wave.prepared)/\(wave.nodes) prepared"
                + (activation == "manual" && !paused ? ", waiting for `benctl activate`" : "")
        case "activating": text = "\(which)activating at \(barrier?.rfc3339 ?? "?")"
        case "baking": text = "\(which)baking until \(bakeUntil?.clockTime ?? "?")"
        case "holding": text = "\(which)passed, holding"
        default: text = "\(which)\(step)"
        }
        guard status == "deploying" || status == "incomplete" else { return nil }
        if paused { text += " (paused)" }
        return text
    }
}
