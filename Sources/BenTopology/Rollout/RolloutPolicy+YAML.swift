public import BenCore
import BenYAML
public import Yams

/// What reading a rollout policy file gave: the policy when it is valid, and every problem found.
public struct RolloutPolicyReading: Sendable {
    /// Nil whenever `errors` is not empty.
    public var policy: RolloutPolicy?
    /// In the order written.
    public var errors: [TopologyError]
}

extension RolloutPolicy {
    public static let format = "ben/rollout-policy/v1"

    /// Reads a rollout policy file (`benctl deploy V --policy FILE`), reporting every problem with its file, line and
    /// field:
    ///
    ///     format: ben/rollout-policy/v1
    ///     on_failure: rollback            # or stay (the default)
    ///     waves:
    ///       - name: canary
    ///         select: {roles: [detector]}  # roles, locations, nodes, rack_percent; none: every target left
    ///         bake: 5m
    ///         gates: {max_refusals: 0, max_missing: 0, max_alerts: 0}
    ///       - name: rest
    ///
    /// Names are checked later, against the topology, when the ledger resolves the waves (`resolve`).
    public static func read(yaml: String, file: String) -> RolloutPolicyReading {
        var reader = RolloutPolicyReader(file: file)
        let root: Yams.Node?
        do {
            root = try YAMLSyntaxError.compose(yaml, resolver: .basic)
        } catch {
            var topology = TopologyReader(file: file)
            topology.report(error)
            return RolloutPolicyReading(policy: nil, errors: topology.diagnostics.errors)
        }
        guard let root else {
            reader.diagnostics.add(.missingField, line: 0, field: "", "the file is empty", fix: "write a policy with `waves:` (docs/operations.md)")
            return RolloutPolicyReading(policy: nil, errors: reader.diagnostics.errors)
        }
        let policy = reader.read(root, path: "", withFormat: true)
        return RolloutPolicyReading(policy: reader.diagnostics.errors.isEmpty ? policy : nil, errors: reader.diagnostics.errors)
    }

    /// Reads a policy written inside another file (a simulator scenario's `rollout:`), its fields under `path`.
    public static func read(node: Yams.Node, file: String, path: String) -> RolloutPolicyReading {
        var reader = RolloutPolicyReader(file: file)
        let policy = reader.read(node, path: path, withFormat: false)
        return RolloutPolicyReading(policy: reader.diagnostics.errors.isEmpty ? policy : nil, errors: reader.diagnostics.errors)
    }
}

struct RolloutPolicyReader {
    var diagnostics: Diagnostics

    static let topFields = ["format", "on_failure", "waves"]
    static let waveFields = ["name", "select", "bake", "gates"]
    static let selectFields = ["roles", "locations", "nodes", "rack_percent"]
    static let gateFields = ["max_refusals", "max_missing", "max_alerts"]

    init(file: String) { diagnostics = Diagnostics(file: file) }

    mutating func read(_ root: Yams.Node, path: String, withFormat: Bool) -> RolloutPolicy? {
        let allowed = withFormat ? Self.topFields : Self.topFields.filter { $0 != "format" }
        guard let top = Fields(root, path: path, allowed: allowed, what: "a rollout policy", diagnostics: &diagnostics) else { return nil }
        if withFormat, let format = top.text("format", diagnostics: &diagnostics, example: RolloutPolicy.format), format != RolloutPolicy.format {
            diagnostics.add(
                .invalidValue, line: top.line(of: "format"), field: top.field("format"), "unknown format '\(format)'",
                fix: "write `format: \(RolloutPolicy.format)` or leave it out")
        }
        var onFailure = RolloutPolicy.OnFailure.stay
        if let text = top.text("on_failure", diagnostics: &diagnostics, example: "rollback") {
            if let value = RolloutPolicy.OnFailure(rawValue: text) {
                onFailure = value
            } else {
                diagnostics.add(
                    .invalidValue, line: top.line(of: "on_failure"), field: top.field("on_failure"), "'\(text)' is not stay or rollback",
                    fix: "write `on_failure: rollback` to roll the reached nodes back when a gate fails, or `stay`")
            }
        }
        guard let items = top.required("waves", example: "[{name: canary, select: {roles: [detector]}, bake: 5m}, {name: rest}]", diagnostics: &diagnostics)
        else { return nil }
        guard case .sequence(let list) = items else {
            diagnostics.add(
                .wrongType, line: items.line, field: top.field("waves"), "expected a list of waves, found \(items.quoted)",
                fix: "write one `- name: …` entry per wave, in order")
            return nil
        }
        guard !list.isEmpty else {
            diagnostics.add(.missingField, line: items.line, field: top.field("waves"), "no waves", fix: "write one `- name: …` entry per wave, in order")
            return nil
        }
        if list.count > RolloutPolicy.maxWaves {
            diagnostics.add(
                .invalidValue, line: items.line, field: top.field("waves"), "\(list.count) waves", fix: "use at most \(RolloutPolicy.maxWaves)")
        }
        var waves: [RolloutPolicy.Wave] = []
        var names: [String: Int] = [:]
        for (i, node) in list.enumerated() {
            let path = "\(top.field("waves"))[\(i)]"
            guard let wave = readWave(node, path: path, index: i) else { continue }
            if let line = names[wave.name] {
                diagnostics.add(
                    .duplicateName, line: node.line, field: "\(path).name", "'\(wave.name)' also names the wave at line \(line)",
                    fix: "give each wave its own name")
            }
            names[wave.name] = node.line
            waves.append(wave)
        }
        return RolloutPolicy(waves: waves, onFailure: onFailure)
    }

    mutating func readWave(_ node: Yams.Node, path: String, index: Int) -> RolloutPolicy.Wave? {
        guard let w = Fields(node, path: path, allowed: Self.waveFields, what: "a wave", diagnostics: &diagnostics) else { return nil }
        var wave = RolloutPolicy.Wave(name: "wave-\(index + 1)")
        if let name = w.text("name", diagnostics: &diagnostics, example: "canary") { wave.name = name }
        if let select = w.value("select"), let s = Fields(select, path: w.field("select"), allowed: Self.selectFields, what: "a selector", diagnostics: &diagnostics) {
            wave.select.roles = names(s, "roles", what: "roles", example: "[detector]")
            wave.select.locations = names(s, "locations", what: "locations", example: "[eu-1/a]")
            wave.select.nodes = names(s, "nodes", what: "node ids", example: "[proxy-1, proxy-2]")
            if let (value, line) = s.count("rack_percent", diagnostics: &diagnostics) {
                if (1...100).contains(value) {
                    wave.select.rackPercent = value
                } else {
                    diagnostics.add(.invalidValue, line: line, field: s.field("rack_percent"), "\(value) is not a percentage from 1 to 100", fix: "write `rack_percent: 10`")
                }
            }
        }
        if let text = w.text("bake", diagnostics: &diagnostics, example: "5m") {
            if let bake = OperatorDuration.parse(text), bake <= RolloutPolicy.maxBake {
                wave.bake = bake
            } else {
                diagnostics.add(
                    .invalidValue, line: w.line(of: "bake"), field: w.field("bake"), "'\(text)' is not \(OperatorDuration.rule) (at most 7 days)",
                    fix: "write `bake: 5m`")
            }
        }
        if let gates = w.value("gates"), let g = Fields(gates, path: w.field("gates"), allowed: Self.gateFields, what: "gates", diagnostics: &diagnostics) {
            wave.gates.maxRefusals = count(g, "max_refusals") ?? 0
            wave.gates.maxMissing = count(g, "max_missing") ?? 0
            wave.gates.maxAlerts = count(g, "max_alerts")
        }
        return wave
    }

    mutating func names(_ fields: Fields, _ name: String, what: String, example: String) -> [String] {
        // A single name written without brackets is a list of one.
        if let single = fields.value(name)?.scalarText { return [single] }
        guard let items = fields.list(name, diagnostics: &diagnostics, what: what) else { return [] }
        var out: [String] = []
        for item in items {
            guard let text = item.scalarText else {
                diagnostics.add(.wrongType, line: item.line, field: fields.field(name), "expected a name, found \(item.quoted)", fix: "write `\(name): \(example)`")
                continue
            }
            out.append(text)
        }
        return out
    }

    mutating func count(_ fields: Fields, _ name: String) -> Int? {
        guard let (value, line) = fields.count(name, diagnostics: &diagnostics) else { return nil }
        guard value >= 0 else {
            diagnostics.add(.invalidValue, line: line, field: fields.field(name), "\(value) is negative", fix: "write `\(name): 0`")
            return nil
        }
        return value
    }
}
