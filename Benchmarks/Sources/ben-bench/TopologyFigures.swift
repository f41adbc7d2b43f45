import ArgumentParser
import BenCore
import BenTopology
import Glibc

/// Parse, validate and plan a topology file, and price the plans: the figures of the "Topology" section of
/// `make bench` (issue 4 item 7). Prints one JSON object.
struct TopologyFigures: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "topology")

    @Argument(help: "The topology file (a 100 000-node fleet from `benctl topology generate`).")
    var file: String

    @Option(help: "Bundle size in bytes for the cost report.")
    var size: Int64 = 64 << 20

    @Option(help: "Planning runs to time (the best is reported).")
    var runs: Int = 5

    func run() throws {
        let clock = ContinuousClock()
        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        guard let text = readText(file) else { throw ValidationError("cannot read \(file)") }

        var start = clock.now
        let parsed = Topology.parse(yaml: text, file: file)
        let parseTime = seconds(clock.now - start)
        guard let topology = parsed.topology, parsed.errors.isEmpty else {
            throw ValidationError("\(file): \(parsed.errors.first.map(String.init(describing:)) ?? "unreadable")")
        }

        start = clock.now
        let problems = topology.validate()
        let validateTime = seconds(clock.now - start)
        guard problems.isEmpty else { throw ValidationError("\(problems[0])") }

        let planner = Planner()
        let key = Key(digest: [UInt8](repeating: 7, count: 32))
        let deployment = Deployment(version: 42, topologyKey: key, bundleSize: size)
        var best = Double.infinity
        var planned: PlannedDeployment?
        for _ in 0..<max(1, runs) {
            start = clock.now
            planned = try planner.plan(topology, deployment)
            best = min(best, seconds(clock.now - start))
        }
        start = clock.now
        let plain = try planner.plan(topology, Deployment(version: 42, topologyKey: key, stripes: 1, bundleSize: size))
        let plainTime = seconds(clock.now - start)

        start = clock.now
        let report = CostModel(topology: topology).report(striped: planned!, plainTree: plain, bundleSize: size)
        let costTime = seconds(clock.now - start)

        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let out: JSONValue = [
            "nodes": .int(Int64(topology.nodes.count)),
            "planned_nodes": .int(Int64(planned!.plan.nodes.count)),
            "parse_seconds": .double(parseTime),
            "validate_seconds": .double(validateTime),
            "plan_seconds": .double(best),
            "plain_plan_seconds": .double(plainTime),
            "cost_seconds": .double(costTime),
            "peak_rss_bytes": .int(Int64(usage.ru_maxrss) * 1024),
            "stripes": .int(Int64(planned!.stripeCount)),
            "nominal_fan_out": .int(Int64(planned!.nominalFanOut)),
            "report": report.json,
        ]
        print(try CanonicalJSON.string(out))
        FileHandleError.write(report.table)
    }

    private func readText(_ path: String) -> String? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

enum FileHandleError {
    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
