public import BenTopology

/// What one flow-engine run of one strategy gave: per-node completion and the byte and message counts.
public struct FlowRun: Sendable {
    /// Why a node never completed.
    public enum Missing: String, Sendable, Hashable, CaseIterable {
        /// Down from the start, or killed.
        case dead
        /// In the partitioned zone, or cut off from the ledger.
        case partitioned
        /// Alive and reachable, yet nothing reached it in time (should not happen; a finding if it does).
        case stalled
    }

    public var strategy: Scenario.Strategy
    /// "baseline", "all faults", or the fault measured alone.
    public var label: String
    public var stripes: Int
    public var nodes: Int
    /// Seconds from the start until each fleet node activated (received everything, plus compile); +∞ if never.
    public var completion: [Double]
    public var missing: [Missing: Int]
    public var bytesPerTier: PerTier<Int64>
    public var ledgerEgress: Int64
    /// The most bytes any node other than the ledger uploaded (a hub counts), and which.
    public var largestEgress: Int64
    public var largestEgressNode: String
    /// Messages reaching the ledger: aggregates from its ack-tree children and orphans' direct acks for tree
    /// strategies, one per node otherwise.
    public var ledgerMessages: Int
    public var duplicatedBytes: Int64
    public var receivedBytes: Int64
    /// When the ledger holds every node's ack (completion plus the ack's way up); nil when some node never acks.
    public var activeAt: Double?
    /// Chunk arrivals simulated, and heap events handled.
    public var chunkEvents: Int64
    public var heapEvents: Int64
    public var adoptions: Int
    public var orphans: Int
    /// Engine state, bytes.
    public var stateBytes: Int
    /// Wall time of the run, seconds (for speed figures only: never compared between runs).
    public var wallSeconds: Double = 0

    /// Completion times of the nodes that completed, sorted.
    public var sortedCompletion: [Double] { completion.filter(\.isFinite).sorted() }

    public var completedCount: Int { completion.reduce(0) { $0 + ($1.isFinite ? 1 : 0) } }
}

/// Summary statistics of a set of completion times.
public struct CompletionStats: Sendable, Hashable {
    public var count: Int
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double
    public var mean: Double
    /// (seconds, fraction of all nodes complete) points of the CDF, at most ~200.
    public var cdf: [CDFPoint]

    public struct CDFPoint: Sendable, Hashable {
        public var seconds: Double
        public var fraction: Double
    }

    public init(_ completion: [Double]) {
        let sorted = completion.filter(\.isFinite).sorted()
        let total = Swift.max(1, completion.count)
        count = sorted.count
        func q(_ p: Double) -> Double {
            sorted.isEmpty ? .infinity : sorted[Swift.min(sorted.count - 1, Swift.max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
        }
        p50 = q(0.5)
        p90 = q(0.9)
        p99 = q(0.99)
        max = sorted.last ?? .infinity
        mean = sorted.isEmpty ? .infinity : sorted.reduce(0, +) / Double(sorted.count)
        var points: [CDFPoint] = []
        if !sorted.isEmpty {
            let steps = Swift.min(200, sorted.count)
            for i in 1...steps {
                let index = Swift.min(sorted.count - 1, (sorted.count * i + steps - 1) / steps - 1)
                points.append(CDFPoint(seconds: sorted[index], fraction: Double(index + 1) / Double(total)))
            }
        }
        cdf = points
    }

    /// p99 ÷ p50.
    public var tailRatio: Double { p50 > 0 && p99.isFinite ? p99 / p50 : .infinity }
}

extension FlowEngine {
    func result(strategy: Scenario.Strategy, label: String) -> FlowRun {
        var missing: [FlowRun.Missing: Int] = [:]
        var completion = [Double](repeating: .infinity, count: fleetCount)
        for v in 0..<fleetCount {
            if done[v].isFinite {
                completion[v] = done[v]
            } else if deadAt[v].isFinite {
                missing[.dead, default: 0] += 1
            } else if faults.partitionZone >= 0 && (zoneOf[v] == faults.partitionZone) != (zoneOf[ledger] == faults.partitionZone) {
                missing[.partitioned, default: 0] += 1
            } else {
                missing[.stalled, default: 0] += 1
            }
        }
        var largest: Int64 = 0
        var largestNode = "-"
        for v in 0..<n where v != ledger && egress[v] > largest {
            largest = egress[v]
            largestNode = v < fleetCount ? fleet.planned.plan.nodes[v].id.rawValue : "hub"
        }
        // Acks: up tree 0 as aggregates, or straight to the ledger.
        var messages = 0
        var activeAt: Double? = 0
        var ackLatency = [Double](repeating: -1, count: n)
        ackLatency[ledger] = 0
        func pathLatency(_ v: Int) -> Double {
            var chain: [Int] = []
            var x = v
            while ackLatency[x] < 0 {
                let f = Int(feeder[x * k])
                if f < 0 || orphan[x] || !forest.aggregatesAcks {
                    ackLatency[x] = directLatency(x)
                    break
                }
                chain.append(x)
                x = Int(eFrom[f])
            }
            for y in chain.reversed() {
                let f = Int(feeder[y * k])
                ackLatency[y] = ackLatency[Int(eFrom[f])] + eLatency[f]
            }
            return ackLatency[v]
        }
        for v in 0..<fleetCount {
            guard done[v].isFinite else {
                activeAt = nil
                continue
            }
            if let a = activeAt { activeAt = Swift.max(a, done[v] + pathLatency(v)) }
            if !forest.aggregatesAcks || orphan[v] {
                messages += 1
            } else {
                let f = Int(feeder[v * k])
                if f >= 0 && Int(eFrom[f]) == ledger { messages += 1 }
            }
        }
        var tiers = PerTier<Int64>(repeating: 0)
        for t in Tier.allCases { tiers[t] = tierBytes[t.rawValue] }
        return FlowRun(
            strategy: strategy, label: label, stripes: k, nodes: fleetCount, completion: completion, missing: missing, bytesPerTier: tiers,
            ledgerEgress: egress[ledger], largestEgress: largest, largestEgressNode: largestNode, ledgerMessages: messages,
            duplicatedBytes: duplicatedBytes, receivedBytes: receivedBytes, activeAt: activeAt, chunkEvents: deliveries, heapEvents: events,
            adoptions: adoptions, orphans: (0..<fleetCount).reduce(0) { $0 + (orphan[$1] ? 1 : 0) }, stateBytes: stateBytes)
    }

    /// One-way latency of a direct link between the ledger and v.
    func directLatency(_ v: Int) -> Double {
        fleet.link(fromRack: -1, zone: zoneOf[ledger], region: regionOf[ledger], toRack: rackOf[v], zone: zoneOf[v], region: regionOf[v]).2
    }
}

extension SwarmEngine {
    func result(label: String) -> FlowRun {
        let fleetCount = ledger
        var missing: [FlowRun.Missing: Int] = [:]
        var activeAt: Double? = 0
        var messages = 0
        for v in 0..<fleetCount {
            if done[v].isFinite {
                messages += 1
                let latency = fleet.link(fromRack: -1, zone: zoneOf[ledger], region: regionOf[ledger], toRack: rackOf[v], zone: zoneOf[v], region: regionOf[v]).2
                if let a = activeAt { activeAt = max(a, done[v] + latency) }
            } else {
                activeAt = nil
                if deadAt[v].isFinite {
                    missing[.dead, default: 0] += 1
                } else if faults.partitionZone >= 0 && (zoneOf[v] == faults.partitionZone) != (zoneOf[ledger] == faults.partitionZone) {
                    missing[.partitioned, default: 0] += 1
                } else {
                    missing[.stalled, default: 0] += 1
                }
            }
        }
        var largest: Int64 = 0
        var largestNode = "-"
        for v in 0..<fleetCount where egress[v] > largest {
            largest = egress[v]
            largestNode = fleet.planned.plan.nodes[v].id.rawValue
        }
        var tiers = PerTier<Int64>(repeating: 0)
        for t in Tier.allCases { tiers[t] = tierBytes[t.rawValue] }
        return FlowRun(
            strategy: .swarm, label: label, stripes: 1, nodes: fleetCount, completion: done, missing: missing, bytesPerTier: tiers,
            ledgerEgress: egress[ledger], largestEgress: largest, largestEgressNode: largestNode, ledgerMessages: messages,
            duplicatedBytes: duplicatedBytes, receivedBytes: receivedBytes, activeAt: activeAt, chunkEvents: deliveries, heapEvents: events,
            adoptions: 0, orphans: 0, stateBytes: stateBytes)
    }
}
