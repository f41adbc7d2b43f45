public import BenCore

/// The rollout record as the ledger stores it (one JSON text per version, beside the version's row): read back
/// after a restart, so a rollout resumes in the wave and step it was in.
extension RolloutRecord {
    static let documentName = "rollout record"
    static let fields: Set<String> = [
        "activation", "waves", "current", "step", "paused", "on_failure", "previous", "wave_timeout_ms", "deadline", "barrier", "alerts",
        "rollback",
    ]
    static let waveFields: Set<String> = ["name", "nodes", "bake_ms", "gates", "started_at", "decided_at", "passed_at", "failure"]

    /// The record as the ledger stores it.
    public var json: JSONValue {
        var step: [String: JSONValue] = ["name": .string(self.step.name)]
        switch self.step {
        case .activating(let barrier): step["barrier"] = .string(barrier.rfc3339)
        case .baking(let until): step["until"] = .string(until.rfc3339)
        case .aborted(let reason): step["reason"] = .string(reason)
        default: break
        }
        var o: [String: JSONValue] = [
            "activation": .string(activation.rawValue), "current": .int(Int64(current)), "step": .object(step), "paused": .bool(paused),
            "on_failure": .string(onFailure.rawValue),
            "alerts": .object(Dictionary(uniqueKeysWithValues: alerts.map { ($0.key.rawValue, JSONValue.int(Int64($0.value))) })),
            "waves": .array(
                waves.map { w in
                    var gates: [String: JSONValue] = [
                        "max_refusals": .int(Int64(w.gates.maxRefusals)), "max_missing": .int(Int64(w.gates.maxMissing)),
                    ]
                    if let a = w.gates.maxAlerts { gates["max_alerts"] = .int(Int64(a)) }
                    var wave: [String: JSONValue] = [
                        "name": .string(w.name), "nodes": .array(w.nodes.map { .string($0.rawValue) }),
                        "bake_ms": .int(w.bake.milliseconds),
                        "gates": .object(gates),
                    ]
                    if let t = w.startedAt { wave["started_at"] = .string(t.rfc3339) }
                    if let t = w.decidedAt { wave["decided_at"] = .string(t.rfc3339) }
                    if let t = w.passedAt { wave["passed_at"] = .string(t.rfc3339) }
                    if let f = w.failure { wave["failure"] = .string(f) }
                    return .object(wave)
                }),
        ]
        if let previous { o["previous"] = .int(Int64(previous.rawValue)) }
        if let waveTimeout { o["wave_timeout_ms"] = .int(waveTimeout.milliseconds) }
        if let deadline { o["deadline"] = .string(deadline.rfc3339) }
        if let barrier { o["barrier"] = .string(barrier.rfc3339) }
        if let rollback { o["rollback"] = .int(Int64(rollback.rawValue)) }
        return .object(o)
    }

    /// Reads a stored record back, strictly.
    public init(json: JSONValue) throws(DocumentError) {
        let r = try FieldReader(json, document: Self.documentName, allowed: Self.fields)
        let activationText = try r.string("activation")
        guard let activation = Activation(rawValue: activationText) else {
            throw r.error("activation", .invalidValue, "unknown activation \(activationText)")
        }
        let failureText = try r.string("on_failure")
        guard let onFailure = RolloutPolicy.OnFailure(rawValue: failureText) else {
            throw r.error("on_failure", .invalidValue, "unknown value \(failureText)")
        }
        let waves = try r.objects("waves", allowed: Self.waveFields) { (w) throws(DocumentError) -> Wave in
            let g = try w.object("gates", allowed: ["max_refusals", "max_missing", "max_alerts"])
            return Wave(
                name: try w.string("name"), nodes: try w.strings("nodes", expected: "a node id") { NodeID($0) },
                bake: .milliseconds(try w.int("bake_ms")),
                gates: RolloutPolicy.Gates(
                    maxRefusals: Int(try g.int("max_refusals")), maxMissing: Int(try g.int("max_missing")),
                    maxAlerts: g.has("max_alerts") ? Int(try g.int("max_alerts")) : nil),
                startedAt: w.has("started_at") ? try w.timestamp("started_at") : nil,
                decidedAt: w.has("decided_at") ? try w.timestamp("decided_at") : nil,
                passedAt: w.has("passed_at") ? try w.timestamp("passed_at") : nil, failure: w.has("failure") ? try w.string("failure") : nil
            )
        }
        let current = Int(try r.int("current", in: 0...Int64(max(0, waves.count - 1))))
        let s = try r.object("step", allowed: ["name", "barrier", "until", "reason"])
        let step: Step
        switch try s.string("name") {
        case "rolling": step = .rolling
        case "prepared": step = .prepared
        case "activating": step = .activating(barrier: try s.timestamp("barrier"))
        case "baking": step = .baking(until: try s.timestamp("until"))
        case "holding": step = .holding
        case "finished": step = .finished
        case "aborted": step = .aborted(reason: try s.string("reason"))
        case let other: throw s.error("name", .invalidValue, "unknown step \(other)")
        }
        var alerts: [NodeID: Int] = [:]
        if case .object(let members) = try r.value("alerts") {
            for (name, value) in members {
                if let node = NodeID(name), case .int(let n) = value { alerts[node] = Int(n) }
            }
        }
        self.init(
            activation: activation, waves: waves, current: current, step: step, paused: try r.bool("paused"), onFailure: onFailure,
            previous: r.has("previous") ? try r.version("previous") : nil,
            waveTimeout: r.has("wave_timeout_ms") ? .milliseconds(try r.int("wave_timeout_ms")) : nil,
            deadline: r.has("deadline") ? try r.timestamp("deadline") : nil, barrier: r.has("barrier") ? try r.timestamp("barrier") : nil,
            alerts: alerts, rollback: r.has("rollback") ? try r.version("rollback") : nil)
    }
}
