/// The targeted part of a topology, laid out for planning: flat arrays indexed by target (0..<count), grouped
/// by rack, racks by zone, zones by region, all in file order. Groups here are "compact": only racks, zones
/// and regions that hold at least one target exist.
struct PlanningFleet {
    let topology: Topology
    /// Topology node index of each target.
    let targets: [Int32]
    let count: Int
    /// Compact rack of each target.
    private(set) var rackOf: [Int32]
    /// Compact zone of each compact rack, compact region of each compact zone.
    private(set) var zoneOfRack: [Int32]
    private(set) var regionOfZone: [Int32]
    /// Topology rack of each compact rack.
    private(set) var topologyRack: [Int32]
    /// `members[rackStart[r]..<rackStart[r + 1]]`: the targets of compact rack r, preferred relays first, then
    /// the others, then never-relay nodes, each part in seeded order. Relay duty rotates with the seed.
    private(set) var rackStart: [Int32]
    private(set) var members: [Int32]
    /// `zoneRacks[z]..<zoneRacks[z + 1]`: the compact racks of compact zone z; likewise zones of a region.
    private(set) var zoneRacks: [Int32]
    private(set) var regionZones: [Int32]
    /// Per target: upload cap in bits per second, fan-out limits, relay duty.
    private(set) var uplink: [Int64]
    private(set) var fanTotal: [Int32]
    /// Four limits per target, indexed `4 * t + tier`.
    private(set) var fanTier: [Int32]
    private(set) var duty: [RelayDuty]
    /// Compact zone and region of the ledger, or -1 when no target shares them.
    private(set) var ledgerZone: Int32
    private(set) var ledgerRegion: Int32
    let seed: UInt64

    var rackCount: Int { rackStart.count - 1 }
    var zoneCount: Int { zoneRacks.count - 1 }
    var regionCount: Int { regionZones.count - 1 }

    init(topology: Topology, targets: [Int32], seed: UInt64) {
        self.topology = topology
        self.targets = targets
        self.count = targets.count
        self.seed = seed
        let n = targets.count
        rackOf = [Int32](repeating: 0, count: n)
        zoneOfRack = []
        regionOfZone = []
        topologyRack = []
        rackStart = []
        zoneRacks = []
        regionZones = []
        uplink = [Int64](repeating: 0, count: n)
        fanTotal = [Int32](repeating: 0, count: n)
        fanTier = [Int32](repeating: 0, count: 4 * n)
        duty = [RelayDuty](repeating: .normal, count: n)
        var lastRack: Int32 = -1
        var lastZone: Int32 = -1
        var lastRegion: Int32 = -1
        ledgerZone = -1
        ledgerRegion = -1
        for (t, index) in targets.enumerated() {
            let node = topology.nodes[Int(index)]
            if node.region != lastRegion {
                lastRegion = node.region
                regionZones.append(Int32(regionOfZone.count))
                if Int(node.region) == topology.ledger.region { ledgerRegion = Int32(regionZones.count - 1) }
            }
            if node.zone != lastZone {
                lastZone = node.zone
                zoneRacks.append(Int32(topologyRack.count))
                regionOfZone.append(Int32(regionZones.count - 1))
                if Int(node.zone) == topology.ledger.zone { ledgerZone = Int32(regionOfZone.count - 1) }
            }
            if node.rack != lastRack {
                lastRack = node.rack
                rackStart.append(Int32(t))
                topologyRack.append(node.rack)
                zoneOfRack.append(Int32(regionOfZone.count - 1))
            }
            rackOf[t] = Int32(topologyRack.count - 1)
            uplink[t] = topology.uplink(of: Int(index)).bitsPerSecond
            let fan = topology.maxFanOut(of: Int(index))
            fanTotal[t] = Int32(clamping: fan.total)
            for tier in Tier.allCases { fanTier[4 * t + tier.rawValue] = Int32(clamping: fan[tier]) }
            duty[t] = node.duty
        }
        rackStart.append(Int32(n))
        zoneRacks.append(Int32(topologyRack.count))
        regionZones.append(Int32(regionOfZone.count))

        // Seeded order inside each rack: preferred relays, then the others, then never-relay nodes.
        members = [Int32](repeating: 0, count: n)
        for r in 0..<(rackStart.count - 1) {
            let lo = Int(rackStart[r])
            let hi = Int(rackStart[r + 1])
            var k = lo
            for wanted in [RelayDuty.preferred, .normal, .never] {
                let start = k
                for t in lo..<hi where duty[t] == wanted {
                    members[k] = Int32(t)
                    k += 1
                }
                var random = PlanRandom(seed, UInt64(topologyRack[r]), UInt64(wanted.rawValue))
                random.shuffle(&members, start..<k)
            }
        }
    }

    /// The tier a link from compact rack `a` to compact rack `b` crosses.
    @inline(__always)
    func tier(rack a: Int32, rack b: Int32) -> Int {
        if a == b { return Tier.inRack.rawValue }
        let za = zoneOfRack[Int(a)]
        let zb = zoneOfRack[Int(b)]
        if za == zb { return Tier.crossRack.rawValue }
        return regionOfZone[Int(za)] == regionOfZone[Int(zb)] ? Tier.crossZone.rawValue : Tier.crossRegion.rawValue
    }

    /// Children target `t` may have in its relay stripe when the nominal fan-out is m: enough that
    /// children × (stream rate k·B/m) / k stays within its uplink, and within its fan-out.
    @inline(__always)
    func capacity(_ t: Int, nominalFanOut m: Int, reference b: Int64) -> Int32 {
        guard duty[t] != .never else { return 0 }
        let byUplink = Int64(m) * uplink[t] / b
        return Int32(min(Int64(fanTotal[t]), byUplink))
    }
}
