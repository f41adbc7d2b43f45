import BenCore
public import BenProtocol
import BenTopology
import Yams

/// A gossip run for the gossip engine (`ben-sim gossip`): a fleet, the faults to throw at its membership and broadcast
/// machines, and the bounds to check. docs/gossip.md documents the file format (`ben/sim-gossip/v1`).
public struct GossipScenario: Sendable {
    public static let format = "ben/sim-gossip/v1"

    public var name: String
    public var description: String = ""
    public var file: String = ""
    public var seed: UInt64 = 1
    public var fleet: Scenario.FleetSource
    /// One-way latency per tier (in rack, cross rack, cross zone, cross region), seconds; nil keeps the topology's.
    public var latency: [Double]?
    /// Simulated seconds.
    public var duration: Double = 60
    /// Run the membership machines (SWIM); without them only broadcast and anti-entropy run (the large dissemination
    /// figures, where membership would only add probes).
    public var membership: Bool = true
    /// When the ledger publishes a new version (seconds from the start); each is one signed announcement.
    public var announcements: [Double] = [5]
    /// Share of nodes with no NATS: they learn announcements only by gossip and ack only through a peer.
    public var natsCut: Double = 0
    /// Every node of this zone (`REGION/ZONE`) has no NATS either.
    public var natsCutZone: String?
    /// The gremlin: per-datagram loss and delay, and a zone cut off for a while.
    public var drop: Double = 0
    public var delay: Double = 0
    public var maxDelay: Double = 0.05
    public var partition: (zone: String, from: Double, until: Double)?
    /// A share of the nodes crashes for good at `at`.
    public var kill: (fraction: Double, at: Double)?
    /// A share of the nodes stops (SIGSTOP) and resumes (SIGCONT).
    public var pause: (fraction: Double, from: Double, until: Double)?
    /// Forged datagrams the gremlin injects over the run (an unlisted sender, a listed sender's forged updates, an
    /// announcement signed by the wrong key).
    public var impostors: Int = 0
    /// Seconds from a node accepting an announcement to its signed ack (the transfer and compile, which the flow and
    /// protocol engines price; here a stand-in so the time to active can be compared with and without NATS).
    public var activation: Double = 2
    /// Every live node must learn the newest announcement within this many seconds of the later of its publication
    /// and the last heal that concerns the node (partition end, its own resume).
    public var bound: Double = 30
    /// A live, reachable node must not be held dead by anyone once this long has passed after the last fault ended.
    public var settle: Double = 45
    /// Encode and decode every datagram through the wire codec (checks the codec against real traffic; slower).
    public var wireCheck: Bool = false
    public var quota = PeerSelection.Quota()
    public var membershipSettings = MembershipMachine.Settings()
    public var broadcastSettings = BroadcastMachine.Settings()

    public init(name: String, fleet: Scenario.FleetSource) {
        self.name = name
        self.fleet = fleet
    }

    /// Reads a gossip scenario.
    ///
    /// - Throws: `SimError` naming the file, line and field of the first problem, and what to do about it.
    public static func read(yaml text: String, file: String) throws(SimError) -> GossipScenario {
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw SimError(.syntax, file: file, problem: "not valid YAML: \(error)", fix: "fix the YAML syntax")
        }
        guard let root else {
            throw SimError(.missingField, file: file, line: 1, field: "format", problem: "the file is empty", fix: "start with `format: \(format)`")
        }
        return try GossipScenarioReader(file: file).scenario(root)
    }

    public static func load(path: String) throws(SimError) -> GossipScenario {
        guard let text = readTextFile(path) else {
            throw SimError(.unreadable, file: path, problem: "cannot read the scenario file", fix: "check the path")
        }
        return try read(yaml: text, file: path)
    }
}

struct GossipScenarioReader {
    let file: String

    static let topLevel = [
        "format", "name", "description", "seed", "topology", "latency", "duration", "membership", "announcements", "nats", "gremlin", "faults",
        "activation", "bound", "settle", "wire_check", "view", "timers",
    ]

    func scenario(_ root: Yams.Node) throws(SimError) -> GossipScenario {
        let f = try ScenarioFields(root, file: file, path: "", allowed: Self.topLevel, what: "a gossip scenario")
        guard let format = try f.text("format", example: GossipScenario.format) else {
            throw SimError(.missingField, file: file, line: f.line, field: "format", problem: "required field is missing", fix: "add `format: \(GossipScenario.format)`")
        }
        guard format == GossipScenario.format else {
            throw f.error("format", "unknown format '\(format)'", fix: "write `format: \(GossipScenario.format)` (ben-sim run takes \(Scenario.format))")
        }
        let fleet = try ScenarioReader(file: file).readFleet(try f.required("topology", example: "{generate: {nodes: 1000}}"))
        var s = GossipScenario(name: try f.text("name", example: "gossip-1k") ?? fileStem(file), fleet: fleet)
        s.file = file
        s.description = try f.text("description", example: "what this run shows") ?? ""
        if let seed = try f.text("seed", example: "42") {
            guard let v = UInt64(seed.replacingUnderscores) else { throw f.error("seed", "expected a whole number ≥ 0, found '\(seed)'", fix: "write `seed: 42`") }
            s.seed = v
        }
        if let latency = f.value("latency") {
            let l = try ScenarioFields(latency, file: file, path: "latency", allowed: Tier.allCases.map(\.name), what: "one-way latency per tier")
            var values: [Double] = []
            for tier in Tier.allCases {
                guard let v = try seconds(l, tier.name, example: "100us") else {
                    throw SimError(.missingField, file: file, line: l.line, field: l.field(tier.name), problem: "every tier needs a latency", fix: "add `\(tier.name): 1ms`")
                }
                values.append(v)
            }
            s.latency = values
        }
        s.duration = try seconds(f, "duration", example: "120s") ?? s.duration
        s.membership = try f.bool("membership") ?? s.membership
        if let list = try f.list("announcements") {
            var times: [Double] = []
            for (i, item) in list.enumerated() {
                guard case .scalar(let text) = item, let t = parseSeconds(text.string), t <= s.duration else {
                    throw SimError(
                        .invalidValue, file: file, line: item.mark?.line ?? f.line, field: "announcements[\(i)]", problem: "expected a time within the run, such as 10s",
                        fix: "list times such as [5s, 60s] no later than `duration`")
                }
                times.append(t)
            }
            s.announcements = times.sorted()
        }
        if let nats = f.value("nats") {
            let n = try ScenarioFields(nats, file: file, path: "nats", allowed: ["cut", "zone"], what: "who has NATS")
            s.natsCut = try n.number("cut", in: 0...1, example: "0.3") ?? 0
            s.natsCutZone = try zoneText(n, "zone")
        }
        if let gremlin = f.value("gremlin") {
            let g = try ScenarioFields(gremlin, file: file, path: "gremlin", allowed: ["drop", "delay", "max_delay", "partition"], what: "the gremlin")
            s.drop = try g.number("drop", in: 0...1, example: "0.05") ?? 0
            s.delay = try g.number("delay", in: 0...1, example: "0.01") ?? 0
            s.maxDelay = try seconds(g, "max_delay", example: "50ms") ?? s.maxDelay
            if let p = g.value("partition") {
                let pf = try ScenarioFields(p, file: file, path: "gremlin.partition", allowed: ["zone", "from", "until"], what: "a partition")
                guard let zone = try zoneText(pf, "zone") else {
                    throw SimError(.missingField, file: file, line: pf.line, field: pf.field("zone"), problem: "required field is missing", fix: "add `zone: eu-west/b`")
                }
                let from = try seconds(pf, "from", example: "20s") ?? 0
                let until = try seconds(pf, "until", example: "80s") ?? s.duration
                guard until > from else { throw pf.error("until", "ends before it starts", fix: "make `until` later than `from`") }
                s.partition = (zone, from, until)
            }
        }
        if let faults = f.value("faults") {
            let ff = try ScenarioFields(faults, file: file, path: "faults", allowed: ["kill", "pause", "impostors"], what: "the faults")
            if let kill = ff.value("kill") {
                let k = try ScenarioFields(kill, file: file, path: "faults.kill", allowed: ["fraction", "at"], what: "crashed nodes")
                s.kill = (try k.number("fraction", in: 0...1, example: "0.01") ?? 0.01, try seconds(k, "at", example: "30s") ?? 0)
            }
            if let pause = ff.value("pause") {
                let p = try ScenarioFields(pause, file: file, path: "faults.pause", allowed: ["fraction", "from", "until"], what: "paused nodes")
                let from = try seconds(p, "from", example: "20s") ?? 0
                let until = try seconds(p, "until", example: "60s") ?? s.duration
                guard until > from else { throw p.error("until", "ends before it starts", fix: "make `until` later than `from`") }
                s.pause = (try p.number("fraction", in: 0...1, example: "0.01") ?? 0.01, from, until)
            }
            s.impostors = try ff.integer("impostors", in: 0...100_000, example: "20") ?? 0
        }
        s.activation = try seconds(f, "activation", example: "2s") ?? s.activation
        s.bound = try seconds(f, "bound", example: "30s") ?? s.bound
        s.settle = try seconds(f, "settle", example: "45s") ?? s.settle
        s.wireCheck = try f.bool("wire_check") ?? false
        if let view = f.value("view") {
            let v = try ScenarioFields(view, file: file, path: "view", allowed: ["in_rack", "cross_rack", "cross_zone", "cross_region", "eager"], what: "the view quota")
            s.quota.inRack = try v.integer("in_rack", in: 0...64, example: "4") ?? s.quota.inRack
            s.quota.crossRack = try v.integer("cross_rack", in: 0...64, example: "4") ?? s.quota.crossRack
            s.quota.crossZone = try v.integer("cross_zone", in: 0...64, example: "3") ?? s.quota.crossZone
            s.quota.crossRegion = try v.integer("cross_region", in: 0...64, example: "3") ?? s.quota.crossRegion
            s.broadcastSettings.eagerPeers = try v.integer("eager", in: 0...64, example: "3") ?? s.broadcastSettings.eagerPeers
        }
        if let timers = f.value("timers") {
            let t = try ScenarioFields(
                timers, file: file, path: "timers", allowed: ["probe_interval", "ping_timeout", "indirect_timeout", "anti_entropy", "graft_timeout", "lazy_push"],
                what: "the gossip timers")
            func set(_ name: String, _ apply: (Duration) -> Void) throws(SimError) {
                if let v = try seconds(t, name, example: "1s") { apply(.milliseconds(Int64((v * 1000).rounded()))) }
            }
            var m = s.membershipSettings
            var b = s.broadcastSettings
            try set("probe_interval") { m.probeInterval = $0 }
            try set("ping_timeout") { m.pingTimeout = $0 }
            try set("indirect_timeout") { m.indirectTimeout = $0 }
            try set("anti_entropy") { b.antiEntropyInterval = $0 }
            try set("graft_timeout") { b.graftTimeout = $0 }
            try set("lazy_push") { b.lazyPushDelay = $0 }
            s.membershipSettings = m
            s.broadcastSettings = b
        }
        return s
    }

    func zoneText(_ f: ScenarioFields, _ name: String) throws(SimError) -> String? {
        guard let zone = try f.text(name, example: "eu-west/b") else { return nil }
        guard zone.split(separator: "/").count == 2 else { throw f.error(name, "expected REGION/ZONE, found '\(zone)'", fix: "write it as `\(name): eu-west/b`") }
        return zone
    }

    /// A duration of any length: `50us`, `20ms`, `2s`, `10min`.
    func seconds(_ f: ScenarioFields, _ name: String, example: String) throws(SimError) -> Double? {
        guard let text = try f.text(name, example: example) else { return nil }
        guard let v = parseSeconds(text) else { throw f.error(name, "expected a duration such as 50us, 20ms, 2s or 10min, found '\(text)'", fix: "write `\(name): \(example)`") }
        return v
    }
}

/// `50us`, `20ms`, `2s`, `10min` (or a bare number of seconds) in seconds; nil for anything else or a negative value.
func parseSeconds(_ text: String) -> Double? {
    let units: [(String, Double)] = [("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("min", 60), ("s", 1)]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
        guard let v = Double(text.dropLast(suffix.count)), v.isFinite, v >= 0 else { return nil }
        return v * scale
    }
    guard let v = Double(text), v.isFinite, v >= 0 else { return nil }
    return v
}
