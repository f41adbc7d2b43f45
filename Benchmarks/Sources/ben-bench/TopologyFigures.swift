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

    @Option(help: "Bundle sizes in bytes for the cost reports (repeat for several; the first is the one planned and timed).")
    var size: [Int64] = [64 << 20]

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
        let deployment = Deployment(version: 42, topologyKey: key, bundleSize: size[0])
        var best = Double.infinity
        var planned: PlannedDeployment?
        for _ in 0..<max(1, runs) {
            start = clock.now
            planned = try planner.plan(topology, deployment)
            best = min(best, seconds(clock.now - start))
        }
        start = clock.now
        let plain = try planner.plan(topology, Deployment(version: 42, topologyKey: key, stripes: 1, bundleSize: size[0]))
        let plainTime = seconds(clock.now - start)

        start = clock.now
        let model = CostModel(topology: topology)
        var reports = [model.report(striped: planned!, plainTree: plain, bundleSize: size[0])]
        let costTime = seconds(clock.now - start)
        // Larger bundles: plan again knowing the size (it weighs k against the stream), then price.
        for bytes in size.dropFirst() {
            let striped = try planner.plan(topology, Deployment(version: 42, topologyKey: key, bundleSize: bytes))
            let single = try planner.plan(topology, Deployment(version: 42, topologyKey: key, stripes: 1, bundleSize: bytes))
            reports.append(model.report(striped: striped, plainTree: single, bundleSize: bytes))
        }
        let subtrees = planned!.ledgerSubtrees(planKey: key)
        let subtreeBytes = subtrees.reduce(0) { $0 + $1.canonicalBytes.count }
        let subtreeNodes = subtrees.reduce(0) { $0 + $1.nodes.count }

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
            "subtree_bytes_per_node": .double(Double(subtreeBytes) / Double(max(1, subtreeNodes))),
            "reports": .array(reports.map(\.json)),
        ]
        print(try CanonicalJSON.string(out))
        for report in reports { FileHandleError.write(report.table + "\n") }
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
