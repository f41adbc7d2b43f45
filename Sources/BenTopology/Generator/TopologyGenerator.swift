public import BenCore

/// Writes synthetic fleets: regions → zones → racks → nodes with a realistic mix of roles and a little of
/// everything a real fleet has (faster racks, a few old NICs, never-relay and maintenance nodes). Pure and
/// seeded: the same parameters give the same topology.
///
/// Keys are placeholders drawn from the seed (32 random bytes, not Ed25519 points): BenTopology does no
/// cryptography. `benctl topology generate` replaces them with real public keys derived from the seed.
public enum TopologyGenerator {
    public struct Parameters: Sendable, Hashable {
        public var fleet: FleetName
        public var regions: Int
        public var zonesPerRegion: Int
        public var racksPerZone: Int
        /// Nodes in total, spread evenly over the racks (the first racks take the remainder).
        public var nodes: Int
        public var seed: UInt64
        /// Adds overrides and tuning knobs as a real fleet has them; without it every node is alike.
        public var variety: Bool
        public var stripes: Int?

        public init(
            fleet: FleetName = FleetName("dc")!, regions: Int = 2, zonesPerRegion: Int = 3, racksPerZone: Int = 8,
            nodes: Int = 400, seed: UInt64 = 1, variety: Bool = true, stripes: Int? = nil
        ) {
            self.fleet = fleet
            self.regions = regions
            self.zonesPerRegion = zonesPerRegion
            self.racksPerZone = racksPerZone
            self.nodes = nodes
            self.seed = seed
            self.variety = variety
            self.stripes = stripes
        }

        /// What is wrong with the parameters, if anything, as the flag that must change.
        public var problem: (flag: String, message: String)? {
            if regions < 1 { return ("--regions", "needs at least 1 region") }
            if zonesPerRegion < 1 { return ("--zones", "needs at least 1 zone per region") }
            if racksPerZone < 1 { return ("--racks", "needs at least 1 rack per zone") }
            let racks = regions * zonesPerRegion * racksPerZone
            if racks > 1 << 20 { return ("--racks", "\(racks) racks is more than 1048576") }
            if nodes < racks { return ("--nodes", "\(nodes) nodes cannot fill \(racks) racks (at least one each)") }
            if nodes > 2_000_000 { return ("--nodes", "more than 2000000 nodes") }
            return nil
        }
    }

    static let regionNames = ["eu-west", "us-east", "ap-south", "eu-central", "us-west", "sa-east", "ap-north", "af-south"]

    public static func generate(_ p: Parameters) -> Topology {
        precondition(p.problem == nil, "invalid generator parameters: \(p.problem!.message)")
        var random = PlanRandom(p.seed, 0x7090)
        var regions: [Region] = []
        var zones: [Zone] = []
        var racks: [Rack] = []
        var nodes: [TopologyNode] = []
        nodes.reserveCapacity(p.nodes)
        let rackCount = p.regions * p.zonesPerRegion * p.racksPerZone
        let perRack = p.nodes / rackCount
        let extra = p.nodes % rackCount
        let rackDigits = String(p.racksPerZone).count
        let nodeDigits = String(perRack + 1).count
        let fast = Bandwidth(bitsPerSecond: 25_000_000_000)!
        let old = Bandwidth(bitsPerSecond: 1_000_000_000)!
        for g in 0..<p.regions {
            let regionName = g < regionNames.count ? regionNames[g] : "region-\(g + 1)"
            let zoneStart = zones.count
            for z in 0..<p.zonesPerRegion {
                let zoneName = z < 26 ? String(UnicodeScalar(UInt8(ascii: "a") + UInt8(z))) : "z\(z + 1)"
                let rackStart = racks.count
                for r in 0..<p.racksPerZone {
                    let q = racks.count
                    let rackName = "r" + pad(r + 1, rackDigits)
                    let size = perRack + (q < extra ? 1 : 0)
                    let first = nodes.count
                    for n in 0..<size {
                        let id = NodeID("\(regionName)-\(zoneName)-\(rackName)-n\(pad(n + 1, nodeDigits))")!
                        let roll = random.below(100)
                        let roles: RoleSet =
                            roll < 6 ? RoleSet(.spine)
                            : roll < 50 ? RoleSet(.proxy)
                            : roll < 62 ? RoleSet(.dataMigrator)
                            : roll < 96 ? RoleSet(.detector) : RoleSet([.proxy, .detector])
                        let host = "10.\(q >> 8 & 255).\(q & 255).\(10 + n % 240)"
                        let address = HostPort(host: host, port: 7401 + n / 240)!
                        let key = NodeKey(words: random.next(), random.next(), random.next(), random.next())
                        var node = TopologyNode(
                            id: id, roles: roles, address: address, key: key, region: Int32(regions.count),
                            zone: Int32(zones.count), rack: Int32(q))
                        if p.variety {
                            if random.below(50) == 0 { node.uplink = old }
                            if random.below(100) == 0 { node.duty = .never }
                            if random.below(500) == 0 { node.maintenance = true }
                            if random.below(200) == 0 {
                                node.maxFanOut = FanOutOverride(perTier: PerTier(inRack: nil, crossRack: nil, crossZone: nil, crossRegion: 1))
                            }
                        }
                        nodes.append(node)
                    }
                    var rack = Rack(name: rackName, region: regions.count, zone: zones.count, nodes: first..<nodes.count)
                    if p.variety && random.below(8) == 0 { rack.uplink = fast }
                    racks.append(rack)
                }
                zones.append(Zone(name: zoneName, region: regions.count, racks: rackStart..<racks.count))
                // One preferred relay per zone: its first spine that relays.
                if p.variety, let spine = (racks[rackStart].nodes.lowerBound..<nodes.count).first(where: {
                    nodes[$0].roles.contains(.spine) && nodes[$0].duty == .normal && nodes[$0].uplink == nil && !nodes[$0].maintenance
                }) {
                    nodes[spine].duty = .preferred
                }
            }
            regions.append(Region(name: regionName, zones: zoneStart..<zones.count))
        }
        let ledger = LedgerSpec(address: HostPort(host: "10.255.0.2", port: 7400)!, region: 0, zone: 0)
        return Topology(
            fleet: p.fleet, ledger: ledger, stripes: p.stripes, regions: regions, zones: zones, racks: racks, nodes: nodes)
    }

    private static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
