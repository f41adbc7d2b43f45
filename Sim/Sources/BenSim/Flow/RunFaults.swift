import BenCore

/// The faults of one run, resolved to nodes: who is down, who dies when, who is slow, which zone is cut off.
/// The same resolution is used for every strategy, so strategies are compared under the same failures.
struct RunFaults: Sendable {
    /// Per fleet node: when it dies (0 for down from the start), +∞ if never.
    var deadAt: [Double]
    /// Per fleet node: multiplier on its uplink.
    var uplinkFactor: [Double]
    /// The zone cut off, and from when.
    var partitionZone: Int32 = -1
    var partitionAt: Double = .infinity
    /// Nodes killed after the start (not those down from the start), in kill order.
    var killed: [(node: Int32, at: Double)] = []

    init(nodes: Int) {
        deadAt = [Double](repeating: .infinity, count: nodes)
        uplinkFactor = [Double](repeating: 1, count: nodes)
    }

    var isEmpty: Bool {
        partitionZone < 0 && !deadAt.contains { $0.isFinite } && !uplinkFactor.contains { $0 != 1 }
    }

    /// Resolves `faults` against the fleet: fractions become seeded samples, `relays` become random relays of
    /// the ben-tree plan (nodes with children in some stripe tree).
    static func resolve(_ faults: [Scenario.Fault], fleet: SimFleet, seed: UInt64, file: String) throws(SimError) -> RunFaults {
        let n = fleet.nodeCount
        var out = RunFaults(nodes: n)
        var random = SimRandom(seed: seed, stream: 0xFA17)
        let all = (0..<Int32(n)).map { $0 }
        var relays: [Int32] = []
        var isRelay = [Bool](repeating: false, count: n)
        for stripe in fleet.planned.plan.stripes { for p in stripe where p >= 0 { isRelay[Int(p)] = true } }
        for i in 0..<n where isRelay[i] { relays.append(Int32(i)) }
        let index = fleet.planned.plan.indexByNode()
        for (number, fault) in faults.enumerated() {
            switch fault {
            case .down(let fraction):
                for v in random.sample(all, Int((fraction * Double(n)).rounded())) { out.deadAt[Int(v)] = 0 }
            case .kill(let at, let count, let names):
                let alive = relays.filter { out.deadAt[Int($0)].isInfinite }
                for v in random.sample(alive, count) {
                    out.deadAt[Int(v)] = at
                    out.killed.append((v, at))
                }
                for name in names {
                    guard let id = NodeID(name), let v = index[id] else {
                        throw SimError(.invalidValue, file: file, field: "faults.kill", problem: "no node '\(name)' in the plan", fix: "name a node of the topology (not one in maintenance)")
                    }
                    if out.deadAt[v].isInfinite {
                        out.deadAt[v] = at
                        out.killed.append((Int32(v), at))
                    }
                }
            case .slow(let fraction, let factor):
                for v in random.sample(all, Int((fraction * Double(n)).rounded())) { out.uplinkFactor[Int(v)] = factor }
            case .partition(let zone, let at):
                guard let z = fleet.zoneIndex(zone) else {
                    throw SimError(.invalidValue, file: file, field: "faults.partition.zone", problem: "no zone '\(zone)' (fault \(number + 1))", fix: "write REGION/ZONE as the topology names them")
                }
                out.partitionZone = Int32(z)
                out.partitionAt = at
            }
        }
        out.killed.sort { ($0.at, $0.node) < ($1.at, $1.node) }
        return out
    }
}
