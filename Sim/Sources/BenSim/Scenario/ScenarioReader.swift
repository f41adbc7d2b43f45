import BenCore
import BenTopology
import BenYAML
import Yams

extension Scenario {
    public static let format = "ben/sim-scenario/v1"

    /// Reads a scenario file. Relative topology paths resolve against the scenario's folder.
    ///
    /// - Throws: `SimError` naming the file, line and field of the first problem, and what to do about it.
    public static func read(yaml text: String, file: String) throws(SimError) -> Scenario {
        let root: Yams.Node?
        do {
            root = try YAMLSyntaxError.compose(text)
        } catch {
            if case .overBudget(let exceeded) = error.problem {
                throw SimError(.syntax, file: file, line: error.line, problem: exceeded.problem, fix: exceeded.fix)
            }
            var problem = error.text
            if case .syntax(_, let what) = error.problem { problem = what }
            throw SimError(.syntax, file: file, line: error.line, problem: "not valid YAML: \(problem)", fix: "fix the YAML syntax")
        }
        guard let root else {
            throw SimError(.missingField, file: file, line: 1, field: "format", problem: "the file is empty", fix: "start with `format: \(format)`")
        }
        var reader = ScenarioReader(file: file)
        return try reader.scenario(root)
    }

    /// Reads a scenario from a path on disk.
    public static func load(path: String) throws(SimError) -> Scenario {
        guard let text = readTextFile(path) else {
            throw SimError(.unreadable, file: path, problem: "cannot read the scenario file", fix: "check the path")
        }
        return try read(yaml: text, file: path)
    }
}

/// The fields of one mapping, checked against the names allowed there: BenYAML's reader, throwing the first
/// problem as a `SimError`.
struct ScenarioFields {
    let fields: YAMLFields

    init(_ node: Yams.Node, file: String, path: String, allowed: [String], what: String) throws(SimError) {
        do {
            fields = try YAMLFields(node, at: FileLocation(file: file, field: path), allowed: allowed, what: what)
        } catch {
            throw SimError(error)
        }
        if let first = fields.problems.first { throw SimError(first) }
    }

    var file: String { fields.location.file }
    var line: Int { fields.line }
    func field(_ name: String) -> String { fields.field(name) }
    func value(_ name: String) -> Yams.Node? { fields.value(name) }
    func lineOf(_ name: String) -> Int { fields.line(of: name) }

    func error(_ name: String, _ problem: String, fix: String) -> SimError {
        error(name, .invalidValue, problem, fix: fix)
    }

    func error(_ name: String, _ code: SimError.Code, _ problem: String, fix: String) -> SimError {
        SimError(code, file: file, line: value(name)?.line ?? lineOf(name), field: field(name), problem: problem, fix: fix)
    }

    func required(_ name: String, example: String) throws(SimError) -> Yams.Node {
        do { return try fields.required(name, example: example) } catch { throw SimError(error) }
    }

    func text(_ name: String, example: String) throws(SimError) -> String? {
        do { return try fields.text(name, example: example) } catch { throw SimError(error) }
    }

    func list(_ name: String) throws(SimError) -> [Yams.Node]? {
        do { return try fields.list(name) } catch { throw SimError(error) }
    }

    func bool(_ name: String) throws(SimError) -> Bool? {
        guard let t = try text(name, example: "true") else { return nil }
        switch t {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(name, "expected true or false, found '\(t)'", fix: "write `\(name): true` or `\(name): false`")
        }
    }

    func integer(_ name: String, in range: ClosedRange<Int>, example: String) throws(SimError) -> Int? {
        guard let t = try text(name, example: example) else { return nil }
        guard let v = Int(t.replacingUnderscores), range.contains(v) else {
            throw error(name, "expected a whole number in \(range.lowerBound)…\(range.upperBound), found '\(t)'", fix: "write `\(name): \(example)`")
        }
        return v
    }

    func number(_ name: String, in range: ClosedRange<Double>, example: String) throws(SimError) -> Double? {
        guard let t = try text(name, example: example) else { return nil }
        var s = Substring(t)
        var scale = 1.0
        if s.hasSuffix("%") {
            s = s.dropLast()
            scale = 0.01
        }
        guard let raw = Double(String(s)), raw.isFinite, range.contains(raw * scale) else {
            throw error(name, "expected a number in \(range.lowerBound)…\(range.upperBound), found '\(t)'", fix: "write `\(name): \(example)`")
        }
        return raw * scale
    }

    func duration(_ name: String, example: String = "2s") throws(SimError) -> Double? {
        guard let t = try text(name, example: example) else { return nil }
        guard let latency = Latency(parsing: t) ?? (t == "0" ? Latency(nanoseconds: 0) : nil) else {
            throw error(name, "expected a duration such as 2s, 500ms or 50us (at most 60s), found '\(t)'", fix: "write `\(name): \(example)`")
        }
        return latency.seconds
    }

    func size(_ name: String, example: String) throws(SimError) -> Int64? {
        guard let t = try text(name, example: example) else { return nil }
        guard let v = ByteSize.parse(t), v > 0 else {
            throw error(name, "expected a size such as 1GiB, 64MiB or 1MiB, found '\(t)'", fix: "write `\(name): \(example)`")
        }
        return v
    }

    /// A size, or 0.
    func sizeOrZero(_ name: String, example: String) throws(SimError) -> Double? {
        if try text(name, example: example) == "0" { return 0 }
        return try size(name, example: example).map(Double.init)
    }

    func bandwidth(_ name: String) throws(SimError) -> Bandwidth? {
        guard let t = try text(name, example: "10Gbit") else { return nil }
        guard let v = Bandwidth(parsing: t) else {
            throw error(name, "expected a speed such as 10Gbit, 100Mbit or 1.25GB/s, found '\(t)'", fix: "write `\(name): 10Gbit`")
        }
        return v
    }
}

extension String {
    var replacingUnderscores: String { String(filter { $0 != "_" }) }
}

struct ScenarioReader {
    let file: String

    static let topLevel = [
        "format", "name", "description", "seed", "topology", "bundle", "links", "strategies", "broker", "swarm", "faults", "timing",
        "blast_radius", "protocol", "rollout",
    ]

    mutating func scenario(_ root: Yams.Node) throws(SimError) -> Scenario {
        let f = try ScenarioFields(root, file: file, path: "", allowed: Self.topLevel, what: "a scenario")
        let format = try f.text("format", example: Scenario.format)
        guard let format else {
            throw SimError(.missingField, file: file, line: f.line, field: "format", problem: "required field is missing", fix: "add `format: \(Scenario.format)`")
        }
        guard format == Scenario.format else {
            throw f.error("format", "unknown format '\(format)'", fix: "write `format: \(Scenario.format)`")
        }
        let name = try f.text("name", example: "dc-100k") ?? fileStem(file)
        let description = try f.text("description", example: "what this scenario shows") ?? ""
        let seedText = try f.text("seed", example: "42")
        var seed: UInt64 = 1
        if let seedText {
            guard let s = UInt64(seedText.replacingUnderscores) else { throw f.error("seed", "expected a whole number ≥ 0, found '\(seedText)'", fix: "write `seed: 42`") }
            seed = s
        }

        let fleet = try readFleet(try f.required("topology", example: "{file: ../../topology/example-dc.yaml}"))
        let bundle = try ScenarioFields(try f.required("bundle", example: "{size: 1GiB, chunk: 1MiB}"), file: file, path: "bundle", allowed: ["size", "chunk", "stripes"], what: "the bundle")
        guard let size = try bundle.size("size", example: "1GiB") else {
            throw SimError(.missingField, file: file, line: bundle.line, field: "bundle.size", problem: "required field is missing", fix: "add `size: 1GiB`")
        }
        let chunk = try bundle.size("chunk", example: "1MiB") ?? (1 << 20)
        guard chunk <= size else { throw bundle.error("chunk", "the chunk (\(ByteSize.format(chunk))) is larger than the bundle", fix: "use a smaller chunk") }
        guard (size + chunk - 1) / chunk <= 1 << 20 else {
            throw bundle.error("chunk", "\((size + chunk - 1) / chunk) chunks is more than 1048576", fix: "use larger chunks")
        }
        let stripes = try bundle.integer("stripes", in: 1...Planner.maxStripes, example: "4")

        var scenario = Scenario(name: name, description: description, file: file, seed: seed, fleet: fleet, bundleSize: size, chunkSize: chunk, stripes: stripes)
        if let links = f.value("links") { scenario.links = try readLinks(links) }
        if let list = try f.list("strategies") {
            var strategies: [Scenario.Strategy] = []
            for (i, item) in list.enumerated() {
                guard case .scalar(let s) = item, let strategy = Scenario.Strategy(rawValue: s.string) else {
                    throw SimError(
                        .invalidValue, file: file, line: item.mark?.line ?? f.lineOf("strategies"), field: "strategies[\(i)]",
                        problem: "unknown strategy '\(item.scalarText ?? item.kind.name)'", fix: "use one of \(Scenario.Strategy.spelling)")
                }
                if strategies.contains(strategy) {
                    throw SimError(.invalidValue, file: file, line: item.mark?.line ?? 0, field: "strategies[\(i)]", problem: "'\(strategy)' is listed twice", fix: "list each strategy once")
                }
                strategies.append(strategy)
            }
            guard !strategies.isEmpty else { throw f.error("strategies", "no strategy listed", fix: "list at least one of \(Scenario.Strategy.spelling)") }
            scenario.strategies = strategies
        }
        if let broker = f.value("broker") {
            let b = try ScenarioFields(broker, file: file, path: "broker", allowed: ["uplink"], what: "the broker")
            scenario.brokerUplink = try b.bandwidth("uplink")
        }
        if let swarm = f.value("swarm") {
            let s = try ScenarioFields(
                swarm, file: file, path: "swarm", allowed: ["peers", "slots", "choke_interval", "tick", "join_spread", "initial_window", "pipeline", "allowed_fast"], what: "the swarm's settings")
            scenario.swarm.peers = try s.integer("peers", in: 1...200, example: "55") ?? scenario.swarm.peers
            scenario.swarm.slots = try s.integer("slots", in: 1...64, example: "4") ?? scenario.swarm.slots
            scenario.swarm.chokeInterval = try s.duration("choke_interval", example: "10s") ?? scenario.swarm.chokeInterval
            scenario.swarm.tick = try s.duration("tick", example: "1s") ?? scenario.swarm.tick
            scenario.swarm.joinSpread = try s.duration("join_spread", example: "2s") ?? scenario.swarm.joinSpread
            // Sizes that may be 0 (no slow start; one piece at a time).
            scenario.swarm.initialWindow = try s.sizeOrZero("initial_window", example: "14480B") ?? scenario.swarm.initialWindow
            scenario.swarm.pipeline = try s.sizeOrZero("pipeline", example: "1MiB") ?? scenario.swarm.pipeline
            scenario.swarm.allowedFast = try s.integer("allowed_fast", in: 0...1024, example: "10") ?? scenario.swarm.allowedFast
        }
        if let faults = f.value("faults") { scenario.faults = try readFaults(faults) }
        if let timing = f.value("timing") {
            let t = try ScenarioFields(timing, file: file, path: "timing", allowed: ["detection", "orphan_after", "stall_after", "compile"], what: "the protocol timers")
            scenario.timing.detection = try t.duration("detection", example: "1.5s") ?? scenario.timing.detection
            scenario.timing.orphanAfter = try t.duration("orphan_after", example: "10s") ?? scenario.timing.orphanAfter
            scenario.timing.stallAfter = try t.duration("stall_after", example: "10s") ?? scenario.timing.stallAfter
            scenario.timing.compile = try t.duration("compile", example: "50ms") ?? scenario.timing.compile
        }
        if let blast = f.value("blast_radius") {
            let b = try ScenarioFields(blast, file: file, path: "blast_radius", allowed: ["enabled", "runs"], what: "the blast-radius settings")
            scenario.blastRadius = try b.bool("enabled") ?? true
            scenario.blastRadiusRuns = try b.integer("runs", in: 0...1000, example: "8") ?? scenario.blastRadiusRuns
        }
        if let proto = f.value("protocol") { scenario.protocolRun = try readProtocol(proto) }
        if let rollout = f.value("rollout") {
            guard scenario.protocolRun != nil else {
                throw f.error("rollout", .missingField, "a rollout policy runs on the protocol engine, and this scenario has no `protocol:` section", fix: "add one")
            }
            scenario.rollout = try readRollout(rollout)
        }
        return scenario
    }

    func readFleet(_ node: Yams.Node) throws(SimError) -> Scenario.FleetSource {
        let f = try ScenarioFields(node, file: file, path: "topology", allowed: ["file", "generate"], what: "the fleet")
        if let path = try f.text("file", example: "../../topology/example-dc.yaml") {
            guard f.value("generate") == nil else {
                throw f.error("generate", "give either `file` or `generate`, not both", fix: "remove one")
            }
            return .file(resolve(path))
        }
        guard let generate = f.value("generate") else {
            throw SimError(.missingField, file: file, line: f.line, field: "topology", problem: "names neither a file nor generator parameters", fix: "add `file: PATH` or `generate: {nodes: 100000}`")
        }
        let g = try ScenarioFields(
            generate, file: file, path: "topology.generate", allowed: ["regions", "zones", "racks", "nodes", "seed", "variety", "fleet"],
            what: "generator parameters")
        var p = TopologyGenerator.Parameters()
        p.regions = try g.integer("regions", in: 1...64, example: "2") ?? p.regions
        p.zonesPerRegion = try g.integer("zones", in: 1...64, example: "3") ?? p.zonesPerRegion
        p.racksPerZone = try g.integer("racks", in: 1...100_000, example: "8") ?? p.racksPerZone
        p.nodes = try g.integer("nodes", in: 1...2_000_000, example: "100000") ?? p.nodes
        p.seed = UInt64(try g.integer("seed", in: 0...Int.max, example: "1") ?? 1)
        p.variety = try g.bool("variety") ?? false
        if let fleet = try g.text("fleet", example: "dc") {
            guard let name = FleetName(fleet) else { throw g.error("fleet", "not a fleet name", fix: FleetName.rule) }
            p.fleet = name
        }
        if let problem = p.problem {
            let field = ["--regions": "regions", "--zones": "zones", "--racks": "racks", "--nodes": "nodes"][problem.flag] ?? "nodes"
            throw g.error(field, problem.message, fix: "change `\(field)`")
        }
        return .generated(p)
    }

    func readLinks(_ node: Yams.Node) throws(SimError) -> Scenario.Links {
        let tiers = Tier.allCases.map(\.name)
        let f = try ScenarioFields(node, file: file, path: "links", allowed: ["uplink", "ledger_uplink"] + tiers, what: "the link model")
        var links = Scenario.Links()
        links.uplink = try f.bandwidth("uplink")
        links.ledgerUplink = try f.bandwidth("ledger_uplink")
        for tier in Tier.allCases {
            guard let v = f.value(tier.name) else { continue }
            let t = try ScenarioFields(v, file: file, path: f.field(tier.name), allowed: ["bandwidth", "latency"], what: "a tier's link")
            guard let bw = try t.bandwidth("bandwidth") else {
                throw SimError(.missingField, file: file, line: t.line, field: t.field("bandwidth"), problem: "required field is missing", fix: "add `bandwidth: 10Gbit`")
            }
            let lat = try t.duration("latency", example: "100us") ?? 0
            links.tiers[tier] = Link(bandwidth: bw, latency: Latency(nanoseconds: Int64((lat * 1e9).rounded()))!)
        }
        return links
    }

    func readFaults(_ node: Yams.Node) throws(SimError) -> [Scenario.Fault] {
        let f = try ScenarioFields(node, file: file, path: "faults", allowed: ["down", "kill", "slow", "partition"], what: "the faults")
        var faults: [Scenario.Fault] = []
        if let down = f.value("down") {
            let d = try ScenarioFields(down, file: file, path: "faults.down", allowed: ["fraction"], what: "nodes down")
            guard let fraction = try d.number("fraction", in: 0...1, example: "0.01") else {
                throw SimError(.missingField, file: file, line: d.line, field: "faults.down.fraction", problem: "required field is missing", fix: "add `fraction: 0.01`")
            }
            faults.append(.down(fraction: fraction))
        }
        if let kills = try f.list("kill") {
            for (i, item) in kills.enumerated() {
                let k = try ScenarioFields(item, file: file, path: "faults.kill[\(i)]", allowed: ["at", "relays", "nodes"], what: "a kill")
                guard let at = try k.duration("at") else {
                    throw SimError(.missingField, file: file, line: k.line, field: k.field("at"), problem: "required field is missing", fix: "add `at: 2s`")
                }
                let relays = try k.integer("relays", in: 0...100_000, example: "3") ?? 0
                var nodes: [String] = []
                for (j, n) in (try k.list("nodes") ?? []).enumerated() {
                    guard case .scalar(let s) = n, NodeID(s.string) != nil else {
                        throw SimError(.invalidValue, file: file, line: n.mark?.line ?? k.line, field: k.field("nodes[\(j)]"), problem: "not a node id", fix: NodeID.rule)
                    }
                    nodes.append(s.string)
                }
                guard relays > 0 || !nodes.isEmpty else { throw k.error("relays", "kills nothing", fix: "add `relays: 3` or `nodes: [ID]`") }
                faults.append(.kill(at: at, relays: relays, nodes: nodes))
            }
        }
        if let slow = f.value("slow") {
            let s = try ScenarioFields(slow, file: file, path: "faults.slow", allowed: ["fraction", "factor"], what: "slow nodes")
            let fraction = try s.number("fraction", in: 0...1, example: "0.01") ?? 0.01
            let factor = try s.number("factor", in: 0.0001...1, example: "0.25") ?? 0.25
            faults.append(.slow(fraction: fraction, factor: factor))
        }
        if let partition = f.value("partition") {
            let p = try ScenarioFields(partition, file: file, path: "faults.partition", allowed: ["zone", "at"], what: "a partition")
            guard let zone = try p.text("zone", example: "eu-west/b") else {
                throw SimError(.missingField, file: file, line: p.line, field: "faults.partition.zone", problem: "required field is missing", fix: "add `zone: REGION/ZONE`")
            }
            guard zone.split(separator: "/").count == 2 else { throw p.error("zone", "expected REGION/ZONE, found '\(zone)'", fix: "write it as `zone: eu-west/b`") }
            faults.append(.partition(zone: zone, at: try p.duration("at") ?? 0))
        }
        return faults
    }

    func readProtocol(_ node: Yams.Node) throws(SimError) -> Scenario.ProtocolRun {
        let f = try ScenarioFields(
            node, file: file, path: "protocol",
            allowed: ["chunks", "relay_failures", "kill_window", "gremlin", "deployments", "deadline", "compile_failures", "tampering"],
            what: "the protocol engine's run")
        var run = Scenario.ProtocolRun()
        run.chunks = try f.integer("chunks", in: 1...4096, example: "16") ?? run.chunks
        run.relayFailures = try f.number("relay_failures", in: 0...1, example: "0.05") ?? 0
        if let window = try f.list("kill_window") {
            guard window.count == 2, case .scalar(let a) = window[0], case .scalar(let b) = window[1],
                let from = Latency(parsing: a.string)?.seconds, let to = Latency(parsing: b.string)?.seconds, from <= to
            else { throw f.error("kill_window", "expected [FROM, TO], two durations in order", fix: "write `kill_window: [1ms, 50ms]`") }
            run.killWindow = from...to
        }
        run.deployments = try f.integer("deployments", in: 1...2, example: "2") ?? 1
        run.deadline = try f.duration("deadline", example: "60s") ?? run.deadline
        for (name, keyPath) in [("compile_failures", \Scenario.ProtocolRun.compileFailures), ("tampering", \Scenario.ProtocolRun.tampering)] {
            for (j, n) in (try f.list(name) ?? []).enumerated() {
                guard case .scalar(let s) = n, NodeID(s.string) != nil else {
                    throw SimError(.invalidValue, file: file, line: n.mark?.line ?? f.line, field: f.field("\(name)[\(j)]"), problem: "not a node id", fix: NodeID.rule)
                }
                run[keyPath: keyPath].append(s.string)
            }
        }
        if let gremlin = f.value("gremlin") {
            let g = try ScenarioFields(gremlin, file: file, path: "protocol.gremlin", allowed: ["drop", "delay", "max_delay", "partition"], what: "the gremlin")
            run.drop = try g.number("drop", in: 0...1, example: "0.001") ?? 0
            run.delay = try g.number("delay", in: 0...1, example: "0.01") ?? 0
            run.maxDelay = try g.duration("max_delay", example: "20ms") ?? run.maxDelay
            if let p = g.value("partition") {
                let pf = try ScenarioFields(p, file: file, path: "protocol.gremlin.partition", allowed: ["zone", "from", "until"], what: "a partition")
                guard let zone = try pf.text("zone", example: "eu-west/b"), zone.split(separator: "/").count == 2 else {
                    throw SimError(.missingField, file: file, line: pf.line, field: pf.field("zone"), problem: "expected REGION/ZONE", fix: "add `zone: eu-west/b`")
                }
                let from = try pf.duration("from") ?? 0
                let until = try pf.duration("until") ?? run.deadline
                guard until > from else { throw pf.error("until", "ends before it starts", fix: "make `until` later than `from`") }
                run.partition = (zone, from, until)
            }
        }
        return run
    }

    func resolve(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        let folder = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return folder.isEmpty ? path : "\(folder)/\(path)"
    }
}

func fileStem(_ path: String) -> String {
    let last = path.split(separator: "/").last.map(String.init) ?? path
    return last.split(separator: ".").first.map(String.init) ?? last
}

extension SimError {
    /// A problem the YAML reader found, at its line (the simulator's errors name no column).
    init(_ problem: YAMLFieldProblem) {
        let code: Code =
            switch problem.code {
            case .missingField: .missingField
            case .wrongType: .wrongType
            case .unknownField: .unknownField
            case .invalidValue: .invalidValue
            }
        self.init(
            code, file: problem.location.file, line: problem.location.line, field: problem.location.field, problem: problem.problem,
            fix: problem.fix)
    }
}
