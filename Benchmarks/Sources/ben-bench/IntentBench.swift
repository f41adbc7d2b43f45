import ArgumentParser
import BenCore
import BenIntent
import Foundation

/// The synthetic policy the intent benchmarks share: a request schema and an N-rule pack of four rule shapes
/// (int and string equality, prefix tests, numeric thresholds, set membership), none of which matches the
/// benchmark request, so every evaluation runs all N rules and ends at the default: the worst case.
enum SyntheticPolicy {
    static let schema = """
        kind: schema
        name: bench_request
        version: 1
        fields:
          method: {type: string, required: true}
          path: {type: string, required: true}
          port: {type: int, required: true}
          bytes: {type: int, required: true}
          country: {type: string, required: true}

        """

    static func condition(_ i: Int) -> String {
        switch i % 4 {
        case 0: "request.port == \(8000 + i) && request.method == \"POST\""
        case 1: "request.path.startsWith(\"/svc\(i)/\")"
        case 2: "request.bytes > \(1_000_000 + i) && request.country == \"C\(i)\""
        default: "request.country in [\"A\(i)\", \"B\(i)\", \"D\(i)\"]"
        }
    }

    static func pack(rules: Int, tag: String = "") -> String {
        var text = "kind: policy_pack\nname: bench\nroles: [proxy]\ninput: bench_request@1\nrules:\n"
        for i in 0..<rules {
            text += "  - name: r\(i)\n    when: '\(condition(i))'\n    action: \(i % 3 == 0 ? "deny" : "{route: backend\(i)}")\n"
        }
        return text + "default: \(tag.isEmpty ? "allow" : "{route: \(tag)}")\n"
    }

    static func intent(rules: Int, tag: String = "") throws -> CompiledIntent {
        let files = [IntentSourceFile(path: "schema.yaml", text: schema), IntentSourceFile(path: "pack.yaml", text: pack(rules: rules, tag: tag))]
        let bundle = try IntentCompiler.build(files).get()
        return try CompiledIntent.compile(bundle, roles: [.proxy], label: tag.isEmpty ? "v1" : tag)
    }

    static let request: JSONValue = ["method": "GET", "path": "/none/index.html", "port": 443, "bytes": 512, "country": "NL"]

    /// The same request and the same comparisons as native Swift: the baseline a compiled policy is held to.
    struct NativeRequest {
        var method: String
        var path: String
        var port: Int64
        var bytes: Int64
        var country: String
    }

    static func nativeRules(_ n: Int) -> [(NativeRequest) -> Bool] {
        (0..<n).map { i -> (NativeRequest) -> Bool in
            switch i % 4 {
            case 0:
                let port = Int64(8000 + i)
                return { $0.port == port && $0.method == "POST" }
            case 1:
                let prefix = "/svc\(i)/"
                return { $0.path.hasPrefix(prefix) }
            case 2:
                let limit = Int64(1_000_000 + i)
                let country = "C\(i)"
                return { $0.bytes > limit && $0.country == country }
            default:
                let set: Set<String> = ["A\(i)", "B\(i)", "D\(i)"]
                return { set.contains($0.country) }
            }
        }
    }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// Evaluations per second of a 100-rule pack, against hand-written Swift closures doing the same comparisons.
struct IntentEval: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "intent-eval")

    @Option(help: "Rules in the pack.")
    var rules = 100

    @Option(help: "How long to measure each contender, in seconds.")
    var seconds: Double = 2

    func run() throws {
        let intent = try SyntheticPolicy.intent(rules: rules)
        let pack = intent.policyPacks[0]
        let record = try pack.layout.record(from: SyntheticPolicy.request).get()
        let budget = intent.settings.evaluationBudget
        precondition(pack.evaluate(record: record, budget: budget).action == .allow)
        let clock = ContinuousClock()
        let limit = Duration.milliseconds(Int64(self.seconds * 1000))

        var count = 0
        var start = clock.now
        var sink = 0
        while clock.now - start < limit {
            for _ in 0..<64 {
                let d = pack.evaluate(record: record, budget: budget)
                sink &+= d.ruleIndex ?? 1
            }
            count += 64
        }
        let celRate = Double(count) / ben_bench.seconds(clock.now - start)

        let native = SyntheticPolicy.nativeRules(rules)
        let request = SyntheticPolicy.NativeRequest(method: "GET", path: "/none/index.html", port: 443, bytes: 512, country: "NL")
        count = 0
        start = clock.now
        while clock.now - start < limit {
            for _ in 0..<64 {
                var matched = -1
                for (i, rule) in native.enumerated() where rule(request) {
                    matched = i
                    break
                }
                sink &+= matched
            }
            count += 64
        }
        let nativeRate = Double(count) / ben_bench.seconds(clock.now - start)

        // End to end: JSON request validated against the schema, then the pack (what `decide(_:)` does).
        count = 0
        start = clock.now
        while clock.now - start < limit {
            for _ in 0..<16 { sink &+= intent.proxy.decide(SyntheticPolicy.request).packs.count }
            count += 16
        }
        let jsonRate = Double(count) / ben_bench.seconds(clock.now - start)
        print(
            "{\"rules\": \(rules), \"cel_evaluations_per_second\": \(Int(celRate)), \"native_evaluations_per_second\": \(Int(nativeRate)), "
                + "\"json_decisions_per_second\": \(Int(jsonRate)), \"slowdown\": \(String(format: "%.2f", nativeRate / celRate)), \"sink\": \(sink % 7)}")
    }
}

/// p99 latency of one evaluation while a writer swaps versions continuously, against the same readers with
/// no writer.
struct IntentSwap: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "intent-swap")

    @Option(help: "Rules in the pack.")
    var rules = 100

    @Option(help: "Evaluations measured in each phase of a round.")
    var evaluations = 100_000

    @Option(help: "Rounds of (steady, swapping); the medians are reported.")
    var rounds = 7

    @Option(help: "Pause between swaps, in microseconds (0: swap as fast as possible).")
    var swapEveryMicroseconds = 1000

    @Flag(help: "Evaluate one request on the new version before swapping it in (what an agent may do).")
    var warmUp = false

    @Flag(help: "Swap between two references to the same version (to tell swap cost from a cold new version).")
    var sameVersion = false

    @Flag(help: "Run the writer thread's loop without swapping (to tell scheduling noise from swap cost).")
    var idleWriter = false

    func run() throws {
        let v1 = try SyntheticPolicy.intent(rules: rules, tag: "v1")
        let v2 = try SyntheticPolicy.intent(rules: rules, tag: "v2")
        let active = ActiveIntent(v1)
        // Each version validates requests against its own layout, as a proxy does when it decides.
        let records = [
            "v1": try v1.policyPacks[0].layout.record(from: SyntheticPolicy.request).get(),
            "v2": try v2.policyPacks[0].layout.record(from: SyntheticPolicy.request).get(),
        ]
        let next = sameVersion ? v1 : v2

        func measure() -> [Double] {
            var latencies: [Double] = []
            latencies.reserveCapacity(evaluations)
            let clock = ContinuousClock()
            for _ in 0..<evaluations {
                let t = clock.now
                let intent = active.intent
                let d = intent.policyPacks[0].evaluate(record: records[intent.label]!, budget: intent.settings.evaluationBudget)
                let elapsed = clock.now - t
                precondition(d.action == .route(intent.label))

                latencies.append(ben_bench.seconds(elapsed))
            }
            return latencies
        }
        func p(_ values: [Double], _ q: Double) -> Double {
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
        }

        _ = measure()  // warm up
        // Alternate quiet and swapping rounds and take the median of each, so a burst of noise from other
        // processes on the machine lands on both sides rather than deciding the ratio.
        var steadyRounds: [(Double, Double)] = []
        var swappingRounds: [(Double, Double)] = []
        var totalSwaps = 0
        for _ in 0..<rounds {
            let steady = measure()
            steadyRounds.append((p(steady, 0.5), p(steady, 0.99)))
            let stop = ManagedStop()
            let pause = swapEveryMicroseconds
            let idle = idleWriter
            let warm = warmUp
            let writer = Thread {
                var n = 0
                while !stop.isSet {
                    if !idle {
                        let incoming = n % 2 == 0 ? next : v1
                        // What an agent can do after compiling: run one request through the new version
                        // before the swap, so its first real request does not find it cold.
                        if warm { _ = incoming.policyPacks[0].evaluate(record: records[incoming.label]!, budget: 100_000) }
                        active.swap(to: incoming)
                    }
                    n += 1
                    if pause > 0 { usleep(UInt32(pause)) }
                }
                stop.swaps = n
            }
            writer.start()
            let swapping = measure()
            stop.set()
            while stop.swaps == 0 { usleep(1000) }
            totalSwaps += stop.swaps
            swappingRounds.append((p(swapping, 0.5), p(swapping, 0.99)))
        }
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
        let (s50, s99) = (median(steadyRounds.map(\.0)), median(steadyRounds.map(\.1)))
        let (w50, w99) = (median(swappingRounds.map(\.0)), median(swappingRounds.map(\.1)))
        let stop = (swaps: totalSwaps, ())
        print(
            "{\"rules\": \(rules), \"steady_p50_us\": \(String(format: "%.2f", s50 * 1e6)), \"steady_p99_us\": \(String(format: "%.2f", s99 * 1e6)), "
                + "\"swapping_p50_us\": \(String(format: "%.2f", w50 * 1e6)), \"swapping_p99_us\": \(String(format: "%.2f", w99 * 1e6)), "
                + "\"p99_ratio\": \(String(format: "%.3f", w99 / s99)), \"swaps\": \(stop.swaps)}")
    }
}

final class ManagedStop: @unchecked Sendable {
    // Read and written under `lock`; shared between the measuring thread and the writer thread.
    private let lock = NSLock()
    private var flag = false
    private var count = 0
    var isSet: Bool { lock.withLock { flag } }
    func set() { lock.withLock { flag = true } }
    var swaps: Int {
        get { lock.withLock { count } }
        set { lock.withLock { count = newValue } }
    }
}

/// Compile time of a 10 000-rule pack: the build (YAML, checks, normal form, canonical JSON) and the agent's
/// compile of the artifact (decode, check, closures).
struct IntentCompile: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "intent-compile")

    @Option(help: "Rules in the pack.")
    var rules = 10_000

    func run() throws {
        let files = [
            IntentSourceFile(path: "schema.yaml", text: SyntheticPolicy.schema),
            IntentSourceFile(path: "pack.yaml", text: SyntheticPolicy.pack(rules: rules)),
        ]
        let clock = ContinuousClock()
        var start = clock.now
        let bundle = try IntentCompiler.build(files).get()
        let build = ben_bench.seconds(clock.now - start)
        start = clock.now
        let intent = try CompiledIntent.compile(bundle, roles: [.proxy], label: "bench")
        let agent = ben_bench.seconds(clock.now - start)
        precondition(intent.policyPacks[0].rules.count == rules)
        let size = bundle.artifacts.first { $0.kind == .policyPack }?.bytes.count ?? 0
        print(
            "{\"rules\": \(rules), \"build_seconds\": \(String(format: "%.3f", build)), \"agent_compile_seconds\": \(String(format: "%.3f", agent)), "
                + "\"artifact_bytes\": \(size)}")
    }
}
