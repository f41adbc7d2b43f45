/// How a rollout proceeds (DESIGN §9, "Waves"): ordered waves, each a selector of the deployment's targets, a bake
/// time and gates; and what happens to the nodes already on the version when a gate fails.
///
/// A wave starts only once the one before is proven (every node of it has a signed answer, or its deadline passed)
/// and its gates hold, also after its bake. A failed gate aborts the rollout: nodes of later waves never receive the
/// version. `benctl deploy V --policy FILE` reads one from YAML (BenTopology's `RolloutPolicy.read(yaml:file:)`),
/// `--wave SPEC` from flags (`RolloutPolicy.wave(flag:)`); both reach the ledger in this form (`json`). Names
/// (roles, nodes, locations) are checked against the topology when the ledger resolves the waves, never here.
public struct RolloutPolicy: CanonicalDocument {
    /// The name errors give the document.
    public static let documentName = "rollout policy"
    /// Larger input is refused unread (1 MiB).
    public static let maxBytes = 1 << 20
    /// The members a policy may have; any other is refused.
    public static let fields: Set<String> = ["waves", "on_failure"]

    /// What happens to the nodes already on the version when a gate fails.
    public enum OnFailure: String, Sendable, Hashable, CaseIterable {
        /// They keep the version; only the waves not reached are spared.
        case stay
        /// The ledger stages the previous active version's content as a new version (as `benctl rollback` does) and
        /// deploys it to every node the rollout reached.
        case rollback
    }

    /// Which of the deployment's targets a wave takes (of those no earlier wave took). Every part given must match;
    /// none given takes every target left.
    public struct Select: Sendable, Hashable {
        /// Nodes that run any of these roles.
        public var roles: [String]
        /// Nodes in any of these locations (region, region/zone or region/zone/rack).
        public var locations: [String]
        /// These nodes, by id.
        public var nodes: [String]
        /// Of the nodes the other parts select, this percentage of each rack, rounded up (at least one per rack that
        /// has any), the first by node id.
        public var rackPercent: Int?

        /// A selector; with no part given, it takes every target left.
        public init(roles: [String] = [], locations: [String] = [], nodes: [String] = [], rackPercent: Int? = nil) {
            self.roles = roles
            self.locations = locations
            self.nodes = nodes
            self.rackPercent = rackPercent
        }

        /// True when no part is given: the wave takes every target left.
        public var isEmpty: Bool { roles.isEmpty && locations.isEmpty && nodes.isEmpty && rackPercent == nil }

        /// The selector in words, for status and errors.
        public var description: String {
            var parts: [String] = []
            if !roles.isEmpty { parts.append("roles \(roles.joined(separator: ","))") }
            if !locations.isEmpty { parts.append("in \(locations.joined(separator: ","))") }
            if !nodes.isEmpty { parts.append(nodes.count == 1 ? "node \(nodes[0])" : "\(nodes.count) named nodes") }
            if let rackPercent { parts.append("\(rackPercent)% of each rack") }
            return parts.isEmpty ? "every target left" : parts.joined(separator: ", ")
        }
    }

    /// What a wave must show before the next one starts.
    public struct Gates: Sendable, Hashable {
        /// Signed refusals tolerated in the wave.
        public var maxRefusals: Int
        /// Nodes of the wave with no signed answer by its deadline, tolerated.
        public var maxMissing: Int
        /// Alerts the version's own detection rules may raise on the wave's nodes during its bake; nil: not checked.
        public var maxAlerts: Int?

        /// Gates; by default no refusal and no missing node is tolerated, and alerts are not checked.
        public init(maxRefusals: Int = 0, maxMissing: Int = 0, maxAlerts: Int? = nil) {
            self.maxRefusals = maxRefusals
            self.maxMissing = maxMissing
            self.maxAlerts = maxAlerts
        }
    }

    /// One wave: which nodes, how long it bakes, and what it must show before the next starts.
    public struct Wave: Sendable, Hashable {
        /// Unique within the policy; shown in status and the audit log.
        public var name: String
        /// Which of the targets left it takes.
        public var select: Select
        /// How long the wave runs the version, once proven, before its gates are checked again and the next starts.
        public var bake: Duration
        /// What the wave must show before the next one starts.
        public var gates: Gates

        /// A wave.
        public init(name: String, select: Select = Select(), bake: Duration = .zero, gates: Gates = Gates()) {
            self.name = name
            self.select = select
            self.bake = bake
            self.gates = gates
        }
    }

    /// In order; at least one.
    public var waves: [Wave]
    /// What a failed gate does to the nodes already on the version.
    public var onFailure: OnFailure

    /// A policy.
    public init(waves: [Wave], onFailure: OnFailure = .stay) {
        self.waves = waves
        self.onFailure = onFailure
    }

    /// The longest bake a wave may have.
    public static let maxBake: Duration = .seconds(7 * 24 * 3600)
    /// More waves than this are refused.
    public static let maxWaves = 64

    /// Reads a policy strictly (as the ledger receives it): 1 to `maxWaves` waves with unique names.
    public init(reading r: FieldReader) throws(DocumentError) {
        let failure = r.has("on_failure") ? try r.string("on_failure") : OnFailure.stay.rawValue
        guard let onFailure = OnFailure(rawValue: failure) else {
            throw r.error("on_failure", .invalidValue, "\"\(failure)\" is not stay or rollback")
        }
        self.onFailure = onFailure
        waves = try r.objects("waves", allowed: ["name", "select", "bake_ms", "gates"]) { (w) throws(DocumentError) -> Wave in
            var wave = Wave(name: try w.string("name"))
            if w.has("select") {
                let s = try w.object("select", allowed: ["roles", "locations", "nodes", "rack_percent"])
                func names(_ field: String) throws(DocumentError) -> [String] {
                    s.has(field) ? try s.strings(field, maxCount: 100_000, expected: "a name") { $0 } : []
                }
                wave.select = Select(
                    roles: try names("roles"), locations: try names("locations"), nodes: try names("nodes"),
                    rackPercent: s.has("rack_percent") ? Int(try s.int("rack_percent", in: 1...100)) : nil)
            }
            if w.has("bake_ms") { wave.bake = .milliseconds(try w.int("bake_ms", in: 0...Self.maxBake.milliseconds)) }
            if w.has("gates") {
                let g = try w.object("gates", allowed: ["max_refusals", "max_missing", "max_alerts"])
                wave.gates = Gates(
                    maxRefusals: g.has("max_refusals") ? Int(try g.int("max_refusals")) : 0,
                    maxMissing: g.has("max_missing") ? Int(try g.int("max_missing")) : 0,
                    maxAlerts: g.has("max_alerts") ? Int(try g.int("max_alerts")) : nil)
            }
            return wave
        }
        guard !waves.isEmpty, waves.count <= Self.maxWaves else {
            throw r.error("waves", .invalidValue, "a policy has 1 to \(Self.maxWaves) waves, not \(waves.count)")
        }
        var seen = Set<String>()
        for (i, wave) in waves.enumerated() where !seen.insert(wave.name).inserted {
            throw r.error("waves[\(i)].name", .invalidValue, "\"\(wave.name)\" names two waves; give each its own name")
        }
    }

    /// The policy as `benctl` sends it to the ledger.
    public var json: JSONValue {
        [
            "on_failure": .string(onFailure.rawValue),
            "waves": .array(
                waves.map { wave in
                    var select: [String: JSONValue] = [:]
                    if !wave.select.roles.isEmpty { select["roles"] = .array(wave.select.roles.map { .string($0) }) }
                    if !wave.select.locations.isEmpty { select["locations"] = .array(wave.select.locations.map { .string($0) }) }
                    if !wave.select.nodes.isEmpty { select["nodes"] = .array(wave.select.nodes.map { .string($0) }) }
                    if let p = wave.select.rackPercent { select["rack_percent"] = .int(Int64(p)) }
                    var gates: [String: JSONValue] = [
                        "max_refusals": .int(Int64(wave.gates.maxRefusals)), "max_missing": .int(Int64(wave.gates.maxMissing)),
                    ]
                    if let a = wave.gates.maxAlerts { gates["max_alerts"] = .int(Int64(a)) }
                    return [
                        "name": .string(wave.name), "select": .object(select), "bake_ms": .int(wave.bake.milliseconds),
                        "gates": .object(gates),
                    ]
                }),
        ]
    }
}

/// Bake times and other operator durations: `30s`, `5m`, `1h`, `500ms`, `1h30m`, or `0`.
public enum OperatorDuration {
    /// What a duration may look like, for error messages.
    public static let rule = "a duration such as 30s, 5m, 1h30m or 500ms"

    /// The duration `text` spells, or nil.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingSpaces)
        if rest == "0" { return .zero }
        guard !rest.isEmpty else { return nil }
        var total: Int64 = 0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard !digits.isEmpty, let number = Double(digits), number.isFinite, number >= 0 else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let ms: Double
            switch unit {
            case "ms": ms = 1
            case "s": ms = 1000
            case "m", "min": ms = 60_000
            case "h": ms = 3_600_000
            default: return nil
            }
            let part = number * ms
            guard part < 1e15 else { return nil }
            total += Int64(part.rounded())
        }
        return .milliseconds(total)
    }
}
