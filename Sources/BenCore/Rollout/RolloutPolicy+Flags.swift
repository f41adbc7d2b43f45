/// A rollout policy written as `benctl deploy` flags: one `--wave SPEC` per wave, in order, and `--on-failure`.
///
/// SPEC is comma-separated `field=value` pairs, list items joined with `+`, so it needs no quoting:
///
///     --wave name=canary,roles=detector,bake=5m,max-refusals=0,max-alerts=0
///     --wave name=tenth,rack-percent=10,bake=30m,max-missing=1
///     --wave name=rest
///
/// Fields: `name`, `roles`, `locations`, `nodes`, `rack-percent`, `bake`, `max-refusals`, `max-missing`,
/// `max-alerts` (underscores work too). A wave with no selector takes every target no earlier wave took.
extension RolloutPolicy {
    /// The fields a `--wave` flag takes (underscores work in place of dashes).
    public static let flagFields = [
        "name", "roles", "locations", "nodes", "rack-percent", "bake", "max-refusals", "max-missing", "max-alerts",
    ]

    /// Reads one `--wave` (the `index`-th, from 1, for messages).
    public static func wave(flag spec: String, index: Int) throws(PolicyFlagError) -> Wave {
        var wave = Wave(name: "wave-\(index)")
        func fail(_ field: String, _ problem: String, _ fix: String) -> PolicyFlagError {
            PolicyFlagError(flag: "--wave", index: index, field: field, problem: problem, fix: fix)
        }
        for part in spec.split(separator: ",", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let field = String(pieces[0]).trimmingSpaces.replacingUnderscores
            guard pieces.count == 2, !field.isEmpty else {
                throw fail("", "'\(part)' is not field=value", "write fields as name=canary,roles=detector,bake=5m")
            }
            let value = String(pieces[1]).trimmingSpaces
            let items = value.split(separator: "+").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
            func count() throws(PolicyFlagError) -> Int {
                guard let n = Int(value), n >= 0 else { throw fail(field, "'\(value)' is not a whole number", "write \(field)=0") }
                return n
            }
            switch field {
            case "name":
                guard !value.isEmpty else { throw fail(field, "empty name", "write name=canary") }
                wave.name = value
            case "roles": wave.select.roles = items
            case "locations": wave.select.locations = items
            case "nodes": wave.select.nodes = items
            case "rack-percent", "percent":
                guard let p = Int(value), (1...100).contains(p) else {
                    throw fail(field, "'\(value)' is not a percentage from 1 to 100", "write rack-percent=10")
                }
                wave.select.rackPercent = p
            case "bake":
                guard let d = OperatorDuration.parse(value), d <= maxBake else {
                    throw fail(field, "'\(value)' is not \(OperatorDuration.rule) (at most 7 days)", "write bake=5m")
                }
                wave.bake = d
            case "max-refusals": wave.gates.maxRefusals = try count()
            case "max-missing": wave.gates.maxMissing = try count()
            case "max-alerts": wave.gates.maxAlerts = try count()
            default:
                let hint = NearestSpelling.suggestion(for: field, among: flagFields).map { "did you mean \($0)? " } ?? ""
                throw fail(field, "unknown field", "\(hint)the fields are \(flagFields.joined(separator: ", "))")
            }
        }
        return wave
    }

    /// The policy `--wave` flags (in order) and `--on-failure` make; names must differ.
    public static func fromFlags(waves specs: [String], onFailure: String?) throws(PolicyFlagError) -> RolloutPolicy {
        var waves: [Wave] = []
        for (i, spec) in specs.enumerated() {
            let wave = try Self.wave(flag: spec, index: i + 1)
            if let earlier = waves.firstIndex(where: { $0.name == wave.name }) {
                throw PolicyFlagError(
                    flag: "--wave", index: i + 1, field: "name", problem: "'\(wave.name)' also names wave \(earlier + 1)",
                    fix: "give each wave its own name")
            }
            waves.append(wave)
        }
        guard waves.count <= maxWaves else {
            throw PolicyFlagError(flag: "--wave", index: 0, field: "", problem: "\(waves.count) waves", fix: "use at most \(maxWaves)")
        }
        var failure = OnFailure.stay
        if let onFailure {
            guard let f = OnFailure(rawValue: onFailure) else {
                throw PolicyFlagError(
                    flag: "--on-failure", index: 0, field: "", problem: "'\(onFailure)' is not stay or rollback",
                    fix: "write --on-failure rollback")
            }
            failure = f
        }
        return RolloutPolicy(waves: waves, onFailure: failure)
    }
}

/// A `--wave` or `--on-failure` flag that cannot be read: which flag (and which wave), which field, what is wrong
/// and what to write.
public struct PolicyFlagError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `--wave` or `--on-failure`.
    public var flag: String
    /// The wave's position among the `--wave` flags, from 1; 0 for a flag that is not per wave.
    public var index: Int
    /// The field of the wave at fault, empty when the whole flag is.
    public var field: String
    /// What is wrong.
    public var problem: String
    /// What to write instead.
    public var fix: String

    /// `--wave 2: bake: '5x' is not a duration …; write bake=5m`.
    public var description: String {
        var out = flag
        if index > 0 { out += " \(index)" }
        out += ": "
        if !field.isEmpty { out += "\(field): " }
        return out + problem + (fix.isEmpty ? "" : "; \(fix)")
    }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? "-" : $0 }) }
}
