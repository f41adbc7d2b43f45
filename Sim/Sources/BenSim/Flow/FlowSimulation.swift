public import BenTopology

/// Runs a scenario's strategies on the flow engine: each without faults (the baseline), with every fault, and
/// with each fault alone to measure its effect; for ben-tree, each killed relay alone as well (its blast
/// radius). Deterministic for the scenario and seed.
public struct FlowSimulation: Sendable {
    public let scenario: Scenario
    public let fleet: SimFleet
    let faults: RunFaults

    /// Loads and plans the scenario's fleet and resolves its faults to nodes.
    public init(scenario: Scenario) throws(SimError) {
        try self.init(scenario: scenario, fleet: SimFleet(scenario: scenario))
    }

    public init(scenario: Scenario, fleet: SimFleet) throws(SimError) {
        self.scenario = scenario
        self.fleet = fleet
        faults = try RunFaults.resolve(scenario.faults, fleet: fleet, seed: scenario.seed, file: scenario.file)
    }

    var settings: FlowEngine.Settings {
        FlowEngine.Settings(
            compile: scenario.timing.compile, detection: scenario.timing.detection, orphanAfter: scenario.timing.orphanAfter,
            stallAfter: scenario.timing.stallAfter)
    }

    func forest(_ strategy: Scenario.Strategy) -> Forest? {
        let n = fleet.nodeCount
        switch strategy {
        case .benTree: return .benTree(fleet)
        case .star: return .star(nodes: n)
        case .broker: return .broker(nodes: n)
        case .binaryTree:
            var order = (0..<Int32(n)).map { $0 }
            var random = SimRandom(seed: scenario.seed, stream: 0xB1_7AEE)
            random.shuffle(&order)
            return .binaryTree(nodes: n, order: order)
        case .chain: return .chain(nodes: n, order: (0..<Int32(n)).map { $0 })
        case .swarm: return nil
        }
    }

    /// One run of one strategy with the given faults (all of the scenario's when nil).
    public func run(_ strategy: Scenario.Strategy, faults selected: [Scenario.Fault]? = nil, label: String = "") throws(SimError) -> FlowRun {
        let resolved = try selected.map { (f) throws(SimError) in try RunFaults.resolve(f, fleet: fleet, seed: scenario.seed, file: scenario.file) } ?? faults
        return try run(strategy, resolved: resolved, label: label)
    }

    func run(_ strategy: Scenario.Strategy, resolved: RunFaults, label: String, progress: ((Double) -> Void)? = nil) throws(SimError) -> FlowRun {
        let clock = ContinuousClock()
        let start = clock.now
        var result: FlowRun
        if let forest = forest(strategy) {
            let engine = FlowEngine(
                fleet: fleet, forest: forest, faults: resolved, settings: settings, bundleSize: scenario.bundleSize, chunkSize: scenario.chunkSize,
                hubUplink: scenario.brokerUplink?.bytesPerSecond ?? fleet.ledgerUplink)
            engine.progress = progress
            try engine.run()
            result = engine.result(strategy: strategy, label: label)
        } else {
            let engine = SwarmEngine(
                fleet: fleet, faults: resolved, bundleSize: scenario.bundleSize, chunkSize: scenario.chunkSize, settings: scenario.swarm,
                seed: scenario.seed, compile: scenario.timing.compile)
            engine.run()
            result = engine.result(label: label)
        }
        let elapsed = clock.now - start
        result.wallSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return result
    }

    /// Every strategy, every fault. `progress` is told what runs next (for a progress display).
    public func runAll(progress: @escaping (String) -> Void = { _ in }) throws(SimError) -> FlowReport {
        let optimal = fleet.optimalTime(bundleSize: scenario.bundleSize)
        var strategies: [StrategyReport] = []
        let runsPerStrategy = 1 + (faults.isEmpty ? 0 : 1 + scenario.faults.count)
        var done = 0
        let totalRuns = scenario.strategies.count * runsPerStrategy
        var current = ""
        var shown = -1
        func step(_ what: String) {
            done += 1
            current = "[\(done)/\(totalRuns)+] \(what)"
            shown = -1
            progress(current)
        }
        // Within a long run: the share of chunk deliveries done, each whole percent once.
        let within: (Double) -> Void = { fraction in
            let percent = Int(min(1, fraction) * 100)
            if percent != shown {
                shown = percent
                progress("\(current) \(percent)%")
            }
        }
        for strategy in scenario.strategies {
            step("\(strategy): baseline")
            let baseline = try run(strategy, resolved: RunFaults(nodes: fleet.nodeCount), label: "baseline", progress: within)
            var report = StrategyReport(strategy: strategy, baseline: RunSummary(baseline, optimal: optimal, bundleSize: scenario.bundleSize))
            if !scenario.faults.isEmpty {
                step("\(strategy): all faults")
                let faulted = try run(strategy, resolved: faults, label: "all faults", progress: within)
                report.faulted = RunSummary(faulted, optimal: optimal, bundleSize: scenario.bundleSize)
                report.effects.append(FaultEffect(fault: "all faults together", baseline: baseline, run: faulted))
                let isolate = scenario.blastRadius && (strategy != .swarm || fleet.nodeCount <= 20_000)
                if isolate && scenario.faults.count > 1 {
                    for fault in scenario.faults {
                        step("\(strategy): \(fault)")
                        let alone = try self.run(strategy, faults: [fault], label: fault.description)
                        report.effects.append(FaultEffect(fault: fault.description, baseline: baseline, run: alone))
                    }
                }
                if isolate && strategy == .benTree {
                    let forest = Forest.benTree(fleet)
                    var interior = [Bool](repeating: false, count: fleet.nodeCount)
                    for parents in forest.parents { for p in parents where p >= 0 && Int(p) < fleet.nodeCount { interior[Int(p)] = true } }
                    for (v, at) in faults.killed.prefix(scenario.blastRadiusRuns) where interior[Int(v)] {
                        var one = RunFaults(nodes: fleet.nodeCount)
                        one.deadAt[Int(v)] = at
                        one.killed = [(v, at)]
                        let name = fleet.planned.plan.nodes[Int(v)].id.rawValue
                        step("\(strategy): relay \(name) killed at \(formatDuration(at))")
                        let alone = try run(strategy, resolved: one, label: "relay \(name) killed")
                        var effect = FaultEffect(fault: "relay \(name) killed at \(formatDuration(at))", baseline: baseline, run: alone)
                        effect.interiorFailure = true
                        report.effects.append(effect)
                    }
                }
            }
            strategies.append(report)
        }
        return FlowReport(
            scenario: scenario.name, description: scenario.description, seed: scenario.seed, nodes: fleet.nodeCount, bundleSize: scenario.bundleSize,
            chunkSize: scenario.chunkSize, plannedStripes: fleet.planned.stripeCount, uplink: fleet.nominalUplink, optimal: optimal,
            faults: scenario.faults.map(\.description), strategies: strategies)
    }
}

/// The flow engine's figures for a whole scenario.
public struct FlowReport: Sendable {
    public var scenario: String
    public var description: String
    public var seed: UInt64
    public var nodes: Int
    public var bundleSize: Int64
    public var chunkSize: Int64
    /// k of the ben-tree plan.
    public var plannedStripes: Int
    /// B, bytes per second.
    public var uplink: Double
    /// T_opt, seconds.
    public var optimal: Double
    public var faults: [String]
    public var strategies: [StrategyReport]
}

public struct StrategyReport: Sendable {
    public var strategy: Scenario.Strategy
    public var baseline: RunSummary
    public var faulted: RunSummary?
    /// Each fault's effect against the baseline: all together, each alone, and each killed relay alone.
    public var effects: [FaultEffect] = []
}

/// One run's figures.
public struct RunSummary: Sendable {
    public var label: String
    public var stripes: Int
    public var nodes: Int
    public var stats: CompletionStats
    public var missing: [FlowRun.Missing: Int]
    public var bytesPerTier: PerTier<Int64>
    public var ledgerEgress: Int64
    public var largestEgress: Int64
    public var largestEgressNode: String
    public var ledgerMessages: Int
    public var duplicatedBytes: Int64
    public var receivedBytes: Int64
    public var activeAt: Double?
    public var chunkEvents: Int64
    public var heapEvents: Int64
    public var adoptions: Int
    public var orphans: Int
    public var stateBytes: Int
    public var wallSeconds: Double
    /// Last completion ÷ T_opt.
    public var ratioToOptimal: Double
    /// Bytes received by all nodes ÷ (N × S).
    public var receivedRatio: Double

    public init(_ run: FlowRun, optimal: Double, bundleSize: Int64) {
        label = run.label
        stripes = run.stripes
        nodes = run.nodes
        stats = CompletionStats(run.completion)
        missing = run.missing
        bytesPerTier = run.bytesPerTier
        ledgerEgress = run.ledgerEgress
        largestEgress = run.largestEgress
        largestEgressNode = run.largestEgressNode
        ledgerMessages = run.ledgerMessages
        duplicatedBytes = run.duplicatedBytes
        receivedBytes = run.receivedBytes
        activeAt = run.activeAt
        chunkEvents = run.chunkEvents
        heapEvents = run.heapEvents
        adoptions = run.adoptions
        orphans = run.orphans
        stateBytes = run.stateBytes
        wallSeconds = run.wallSeconds
        ratioToOptimal = optimal > 0 ? stats.max / optimal : .infinity
        receivedRatio = Double(run.receivedBytes) / Double(max(1, Int64(run.nodes) * bundleSize))
    }

    public var missingCount: Int { missing.values.reduce(0, +) }
}

/// What one fault (or all together) did, against the fault-free baseline of the same strategy.
public struct FaultEffect: Sendable, Hashable {
    public var fault: String
    /// A relay with children in the plan (its blast radius is what this measures).
    public var interiorFailure = false
    /// Nodes that completed later than in the baseline (by more than a millisecond), and nodes that never did.
    public var nodesDelayed: Int
    public var nodesLost: Int
    /// The most seconds any node lost, and the mean over delayed nodes.
    public var maxSecondsAdded: Double
    public var meanSecondsAdded: Double
    /// Change of the last completion, of p99, and of the ledger's egress.
    public var lastCompletionAdded: Double
    public var p99Added: Double
    public var ledgerEgressAdded: Int64

    init(fault: String, baseline: FlowRun, run: FlowRun) {
        self.fault = fault
        var delayed = 0
        var lost = 0
        var maxAdded = 0.0
        var sum = 0.0
        for (b, r) in zip(baseline.completion, run.completion) {
            if !r.isFinite {
                lost += 1
            } else if b.isFinite && r - b > 1e-3 {
                delayed += 1
                sum += r - b
                maxAdded = max(maxAdded, r - b)
            }
        }
        nodesDelayed = delayed
        nodesLost = lost
        maxSecondsAdded = maxAdded
        meanSecondsAdded = delayed > 0 ? sum / Double(delayed) : 0
        let before = CompletionStats(baseline.completion)
        let after = CompletionStats(run.completion)
        lastCompletionAdded = after.max - before.max
        p99Added = after.p99 - before.p99
        ledgerEgressAdded = run.ledgerEgress - baseline.ledgerEgress
    }
}
