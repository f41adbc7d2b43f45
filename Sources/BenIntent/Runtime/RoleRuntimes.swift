public import BenCore

/// The combined decision of every policy pack a role runs, and why.
public struct PolicyDecision: Sendable, Hashable {
    /// allow, deny or route.
    public var action: PolicyAction
    /// The pack and rule that decided (rule nil: that pack's default).
    public var pack: String?
    public var rule: String?
    public var tags: [String]
    /// Each pack's own decision, in pack order.
    public var packs: [PackDecision]
    /// Why the request did not fit a pack's input schema (then that pack denies).
    public var problems: [String: RecordProblems]
    /// The label of the compiled intent that decided.
    public var version: String
}

/// Shared by proxy and spine: runs the packs for one role and combines them. A deny from any pack wins, then
/// the first route, then allow. A request that does not fit a pack's input schema is denied by that pack.
func decide(_ intent: CompiledIntent, role: Role, request: JSONValue) -> PolicyDecision {
    var decision = PolicyDecision(action: .allow, pack: nil, rule: nil, tags: [], packs: [], problems: [:], version: intent.label)
    var route: PackDecision? = nil
    var deny: PackDecision? = nil
    for pack in intent.policyPacks where pack.roles.contains(role) {
        let one: PackDecision
        switch pack.layout.record(from: request) {
        case .success(let record): one = pack.evaluate(record: record, budget: intent.settings.evaluationBudget)
        case .failure(let problems):
            decision.problems[pack.name] = problems
            one = PackDecision(pack: pack.name, action: .deny, rule: nil, ruleIndex: nil, tags: [], errors: [])
        }
        decision.packs.append(one)
        for tag in one.tags where !decision.tags.contains(tag) { decision.tags.append(tag) }
        switch one.action {
        case .deny: if deny == nil { deny = one }
        case .route: if route == nil { route = one }
        default: break
        }
    }
    let decidedBy = deny ?? route ?? decision.packs.first
    decision.action = deny?.action ?? route?.action ?? .allow
    decision.pack = decidedBy?.pack
    decision.rule = decidedBy?.rule
    return decision
}

/// The proxy role: a policy decision for a request, with the rule that matched.
public struct ProxyRuntime: Sendable {
    public let intent: CompiledIntent

    public func decide(_ request: JSONValue) -> PolicyDecision { BenIntent.decide(intent, role: .proxy, request: request) }

    /// The hot path: a request already validated against `pack.layout`, one pack, no allocation for JSON.
    public func decide(record: CELValue, pack: CompiledPolicyPack) -> PackDecision {
        pack.evaluate(record: record, budget: intent.settings.evaluationBudget)
    }
}

/// What the spine did with a record.
public struct SpineResult: Sendable, Hashable {
    /// The schema the record was validated against, if one was named or implied by the packs.
    public var schema: SchemaReference?
    public var valid: Bool
    public var problems: RecordProblems?
    /// The record with defaults filled in, when valid.
    public var normalized: JSONValue?
    public var decision: PolicyDecision
}

/// The spine role: validation of a record against its schema, plus the spine's policy.
public struct SpineRuntime: Sendable {
    public let intent: CompiledIntent

    /// Validates `record` against `schema` (or, when nil, against the input schema of the first spine pack)
    /// and evaluates the spine's packs. An invalid record is denied.
    public func admit(_ record: JSONValue, schema: SchemaReference? = nil) -> SpineResult {
        let ref = schema ?? intent.policyPacks.first { $0.roles.contains(.spine) }?.input
        var decision = BenIntent.decide(intent, role: .spine, request: record)
        guard let ref else {
            return SpineResult(schema: nil, valid: decision.problems.isEmpty, problems: decision.problems.values.first, normalized: nil, decision: decision)
        }
        guard let layout = intent.layouts[ref] else {
            let problems = RecordProblems(problems: [RecordProblem(path: "", message: "this bundle declares no schema \(ref)")])
            decision.action = .deny
            return SpineResult(schema: ref, valid: false, problems: problems, normalized: nil, decision: decision)
        }
        switch layout.record(from: record) {
        case .success(let v):
            return SpineResult(schema: ref, valid: true, problems: nil, normalized: RecordValidator.json(v), decision: decision)
        case .failure(let p):
            decision.action = .deny
            return SpineResult(schema: ref, valid: false, problems: p, normalized: nil, decision: decision)
        }
    }
}

/// What a migration did.
public struct MigrationResult: Sendable, Hashable {
    public var record: JSONValue
    /// The contracts applied, in order (v1→v2, v2→v3, …).
    public var contracts: [String]
}

/// The data_migrator role: moves records between versions of a schema by its contracts, chaining them
/// (v1→v2→v3) when no single contract covers the whole way.
public struct DataMigratorRuntime: Sendable {
    public let intent: CompiledIntent

    public func migrate(_ record: JSONValue, schema: String, from: Int, to: Int) -> Result<MigrationResult, MigrationFailure> {
        if from == to { return .success(MigrationResult(record: record, contracts: [])) }
        guard let path = self.path(schema: schema, from: from, to: to) else {
            let known = intent.contracts.filter { $0.schema == schema }.map { "\($0.from)→\($0.to)" }
            return .failure(MigrationFailure(
                contract: "",
                reason: "no contract (or chain of contracts) migrates \(schema) from v\(from) to v\(to)"
                    + (known.isEmpty ? "" : "; contracts for \(schema): \(known.joined(separator: ", "))")))
        }
        var current = record
        for contract in path {
            switch contract.migrate(current, budget: intent.settings.evaluationBudget) {
            case .success(let next): current = next
            case .failure(let f): return .failure(f)
            }
        }
        return .success(MigrationResult(record: current, contracts: path.map(\.name)))
    }

    /// The shortest chain of contracts, preferring the lowest versions at each step (deterministic).
    func path(schema: String, from: Int, to: Int) -> [CompiledContract]? {
        let contracts = intent.contracts.filter { $0.schema == schema }.sorted { ($0.from, $0.to, $0.name) < ($1.from, $1.to, $1.name) }
        var previous: [Int: CompiledContract] = [:]
        var queue = [from]
        var seen: Set<Int> = [from]
        while !queue.isEmpty {
            let v = queue.removeFirst()
            if v == to { break }
            for c in contracts where c.from == v && !seen.contains(c.to) {
                seen.insert(c.to)
                previous[c.to] = c
                queue.append(c.to)
            }
        }
        guard seen.contains(to) else { return nil }
        var chain: [CompiledContract] = []
        var v = to
        while v != from, let c = previous[v] {
            chain.append(c)
            v = c.from
        }
        return chain.reversed()
    }
}

/// What a detector found in one event.
public struct DetectorResult: Sendable, Hashable {
    public var alerts: [Alert]
    public var errors: [String: [RuleError]]
    /// Rule sets whose event schema the event does not fit, with why.
    public var skipped: [String: RecordProblems]
    public var version: String
}

/// The detector role: the alerts an event raises.
public struct DetectorRuntime: Sendable {
    public let intent: CompiledIntent

    public func inspect(_ event: JSONValue) -> DetectorResult {
        var result = DetectorResult(alerts: [], errors: [:], skipped: [:], version: intent.label)
        for set in intent.ruleSets {
            switch set.layout.record(from: event) {
            case .success(let record):
                let (alerts, errors) = set.inspect(event: record, budget: intent.settings.evaluationBudget)
                result.alerts += alerts
                if !errors.isEmpty { result.errors[set.name] = errors }
            case .failure(let problems):
                result.skipped[set.name] = problems
            }
        }
        return result
    }
}
