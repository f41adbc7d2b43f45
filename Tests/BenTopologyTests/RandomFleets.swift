import BenCore
import BenTestKit
import BenTopology

/// Random topologies for the property tests: generated fleets with random overrides and tuning knobs.
enum RandomFleets {
    struct Options {
        /// Per-tier fan-out limits at least the total, so they never bind (the exact-crossing property needs it).
        var generousTiers = false
    }

    static func fleet(seed: UInt64, _ options: Options = Options()) -> Topology {
        var g = SeededGenerator(seed: seed)
        func pick(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &g) }
        func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &g) < p }
        let regions = pick(1...3)
        let zones = pick(1...3)
        let racks = pick(1...4)
        let rackCount = regions * zones * racks
        let nodes = pick(rackCount...max(rackCount, min(240, rackCount * pick(1...14))))
        var t = TopologyGenerator.generate(
            .init(
                regions: regions, zonesPerRegion: zones, racksPerZone: racks, nodes: nodes, seed: seed,
                variety: chance(0.7)))
        let uplinks = ["1Gbit", "10Gbit", "10Gbit", "25Gbit", "40Gbit"].map { Bandwidth(parsing: $0)! }
        let total = pick(3...16)
        var tiers = PerTier(inRack: pick(1...16), crossRack: pick(1...8), crossZone: pick(1...4), crossRegion: pick(1...3))
        if options.generousTiers { tiers = PerTier(repeating: 64) }
        t.defaults.maxFanOut = FanOut(total: total, perTier: tiers)
        for i in t.nodes.indices {
            if chance(0.08) { t.nodes[i].uplink = uplinks[pick(0...uplinks.count - 1)] }
            if chance(0.05) { t.nodes[i].duty = .never }
            if chance(0.05) && t.nodes[i].duty == .normal { t.nodes[i].duty = .preferred }
            if chance(0.02) { t.nodes[i].maintenance = true }
            if chance(0.05) { t.nodes[i].maxFanOut = FanOutOverride(total: pick(1...6)) }
        }
        for r in t.racks.indices where chance(0.15) {
            t.racks[r].uplink = uplinks[pick(1...uplinks.count - 1)]
        }
        t.ledger.maxFanOut = chance(0.5) ? nil : pick(1...12)
        t.ledger.uplink = chance(0.3) ? uplinks[pick(1...uplinks.count - 1)] : nil
        t.ledger.region = pick(0...regions - 1)
        t.ledger.zone = t.regions[t.ledger.region].zones.lowerBound + pick(0...zones - 1)
        if chance(0.3) { t.stripes = pick(1...6) }
        if options.generousTiers {
            for i in t.nodes.indices { t.nodes[i].maxFanOut = nil }
            for r in t.racks.indices { t.racks[r].maxFanOut = nil }
        }
        return t
    }

    /// A random deployment over `t`: roles, a few down nodes, sometimes a fixed k.
    static func deployment(for t: Topology, seed: UInt64) -> Deployment {
        var g = SeededGenerator(seed: seed ^ 0xD0_D0)
        var roles: [Role] = []
        if Bool.random(using: &g) {
            roles = Role.allCases.filter { _ in Bool.random(using: &g) }
        }
        var down: [NodeID] = []
        let downCount = Int.random(in: 0...max(0, t.nodes.count / 8), using: &g)
        for _ in 0..<downCount { down.append(t.nodes[Int.random(in: 0..<t.nodes.count, using: &g)].id) }
        let stripes: Int? = Int.random(in: 0..<4, using: &g) == 0 ? Int.random(in: 1...6, using: &g) : nil
        return Deployment(
            version: Version(UInt64.random(in: 1...1000, using: &g)), topologyKey: Fixtures.key,
            selector: Selector(roles: roles), down: down, stripes: stripes)
    }
}
