public import BenCore

/// The result of evaluating one input for one role, and why: a short human summary, or the same as JSON.
/// `benctl eval --bundle` and an agent's query endpoint (`benctl eval --node`) both produce this, so an operator
/// sees the same answer in the same words before and after a deployment.
public struct EvaluationReport: Sendable {
    public var text: String
    public var json: JSONValue

    /// What a data migrator needs besides the record: which schema, from which version to which.
    public struct Migration: Sendable, Hashable {
        public var schema: String
        public var from: Int
        public var to: Int

        public init(schema: String, from: Int, to: Int) {
            self.schema = schema
            self.from = from
            self.to = to
        }
    }

    /// Runs `role`'s runtime on `input`: the proxy's decision, the spine's validation and decision (against
    /// `schema` when given), a migration (`migration`, or the bundle's only contract), or a detector's alerts.
    public static func evaluate(
        _ intent: CompiledIntent, role: Role, input: JSONValue, schema: SchemaReference? = nil, migration: Migration? = nil
    ) throws(IntentError) -> EvaluationReport {
        switch role {
        case .proxy:
            return decision(intent.proxy.decide(input))
        case .spine:
            return spine(intent.spine.admit(input, schema: schema))
        case .dataMigrator:
            let m: Migration
            if let migration {
                m = migration
            } else if intent.contracts.count == 1, let c = intent.contracts.first {
                m = Migration(schema: c.schema, from: c.from, to: c.to)
            } else {
                let all = intent.contracts.map { "\($0.schema) \($0.from)→\($0.to)" }.joined(separator: ", ")
                throw IntentError(
                    .unknownReference, file: "query", line: 0, column: 0, field: "migration",
                    "say which migration (schema, from, to); the bundle's contracts: \(all.isEmpty ? "none" : all)")
            }
            return self.migration(intent.dataMigrator.migrate(input, schema: m.schema, from: m.from, to: m.to), schema: m.schema, from: m.from, to: m.to)
        case .detector:
            return detector(intent.detector.inspect(input))
        }
    }

    static func decisionJSON(_ d: PolicyDecision) -> JSONValue {
        [
            "decision": d.action.json, "pack": d.pack.map { .string($0) } ?? .null, "rule": d.rule.map { .string($0) } ?? .null,
            "tags": .array(d.tags.map { .string($0) }), "version": .string(d.version),
            "packs": .array(d.packs.map { p in
                [
                    "pack": .string(p.pack), "decision": p.action.json, "rule": p.rule.map { .string($0) } ?? .null,
                    "tags": .array(p.tags.map { .string($0) }), "errors": .array(p.errors.map { .string($0.description) }),
                ]
            }),
            "problems": .object(d.problems.mapValues { .array($0.problems.map { .string($0.description) }) }),
        ]
    }

    static func decisionLines(_ d: PolicyDecision) -> [String] {
        var lines = ["decision: \(d.action)"]
        if let pack = d.pack {
            lines.append("  because: " + (d.rule.map { "pack \(pack), rule \($0) matched" } ?? "pack \(pack): no rule matched, so its default"))
        } else {
            lines.append("  because: no policy pack applies to this role, so allow")
        }
        if !d.tags.isEmpty { lines.append("  tags: \(d.tags.joined(separator: ", "))") }
        for p in d.packs {
            let why = p.rule.map { "rule \($0)" + (p.ruleIndex.map { " (rules[\($0)])" } ?? "") } ?? "default"
            lines.append("  pack \(p.pack): \(p.action) by \(why)")
            for e in p.errors { lines.append("    error in \(e)") }
            if let problems = d.problems[p.pack] {
                for problem in problems.problems { lines.append("    input does not fit the schema: \(problem)") }
            }
        }
        return lines
    }

    public static func decision(_ d: PolicyDecision) -> EvaluationReport {
        EvaluationReport(text: decisionLines(d).joined(separator: "\n"), json: decisionJSON(d))
    }

    public static func spine(_ r: SpineResult) -> EvaluationReport {
        var lines: [String] = []
        let schema = r.schema?.description ?? "no schema"
        if r.valid {
            lines.append("record: valid \(schema)")
        } else {
            lines.append("record: INVALID \(schema)")
            for p in r.problems?.problems ?? [] { lines.append("  \(p)") }
        }
        lines += decisionLines(r.decision)
        var json = decisionJSON(r.decision)
        if case .object(var o) = json {
            o["valid"] = .bool(r.valid)
            o["schema"] = r.schema.map { .string($0.description) } ?? .null
            o["record_problems"] = .array((r.problems?.problems ?? []).map { .string($0.description) })
            o["normalized"] = r.normalized ?? .null
            json = .object(o)
        }
        return EvaluationReport(text: lines.joined(separator: "\n"), json: json)
    }

    public static func migration(_ r: Result<MigrationResult, MigrationFailure>, schema: String, from: Int, to: Int) -> EvaluationReport {
        switch r {
        case .success(let m):
            let record = (try? CanonicalJSON.string(m.record)) ?? "?"
            let text = "migrated \(schema) v\(from) → v\(to) by \(m.contracts.joined(separator: ", "))\n\(record)"
            return EvaluationReport(text: text, json: ["ok": true, "contracts": .array(m.contracts.map { .string($0) }), "record": m.record])
        case .failure(let f):
            return EvaluationReport(text: "migration failed: \(f)", json: ["ok": false, "error": .string(f.description)])
        }
    }

    public static func detector(_ r: DetectorResult) -> EvaluationReport {
        var lines = ["alerts: \(r.alerts.count)"]
        for a in r.alerts { lines.append("  [\(a.severity.rawValue)] \(a.ruleSet)/\(a.rule): \(a.message)") }
        for (set, errors) in r.errors.sorted(by: { $0.key < $1.key }) {
            for e in errors { lines.append("  error in \(set)/\(e)") }
        }
        for (set, problems) in r.skipped.sorted(by: { $0.key < $1.key }) {
            lines.append("  rule set \(set) skipped: the event does not fit its schema (\(problems))")
        }
        let json: JSONValue = [
            "alerts": .array(r.alerts.map { a in
                ["rule_set": .string(a.ruleSet), "rule": .string(a.rule), "severity": .string(a.severity.rawValue), "message": .string(a.message)]
            }),
            "errors": .object(r.errors.mapValues { .array($0.map { .string($0.description) }) }),
            "skipped": .object(r.skipped.mapValues { .string($0.description) }),
            "version": .string(r.version),
        ]
        return EvaluationReport(text: lines.joined(separator: "\n"), json: json)
    }
}
