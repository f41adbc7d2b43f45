import BenCore
public import BenTopology

/// The fleet a scenario simulates: its topology with the scenario's link model applied, and the real planner's
/// plan for it. Every strategy runs over the plan's nodes (`plan.nodes`; nodes the planner left out, such as
/// those in maintenance, are not simulated), so the strategies are compared on the same nodes.
public struct SimFleet: Sendable {
    public let topology: Topology
    public let planned: PlannedDeployment
    /// Plan node i sits at topology node `topologyIndex[i]`.
    public var nodeCount: Int { planned.plan.nodes.count }
    /// Per plan node: upload cap in bytes per second (before faults).
    public let uplink: [Double]
    public let rack: [Int32]
    public let zone: [Int32]
    public let region: [Int32]
    public let ledgerUplink: Double
    /// How long planning took, for progress display (wall time, never part of a figure that must repeat).
    public var planSeconds: Double = 0

    /// Loads (or generates) the topology, applies the scenario's link model and plans it.
    ///
    /// - Throws: `SimError` for an unreadable or invalid topology, or a fleet the planner cannot plan.
    public init(scenario: Scenario) throws(SimError) {
        var topology: Topology
        switch scenario.fleet {
        case .file(let path):
            guard let text = readTextFile(path) else {
                throw SimError(.unreadable, file: scenario.file, field: "topology.file", problem: "cannot read the topology file \(path)", fix: "check the path (relative to the scenario's folder)")
            }
            let reading = Topology.read(yaml: text, file: path)
            guard let read = reading.topology else {
                throw SimError(.topology, file: scenario.file, field: "topology.file", problem: "\(reading.errors.first.map(String.init(describing:)) ?? "invalid topology")", fix: "`benctl topology check \(path)` lists every problem")
            }
            topology = read
        case .generated(let parameters):
            topology = TopologyGenerator.generate(parameters)
        }
        try self.init(topology: topology, scenario: scenario)
    }

    /// Applies the scenario's link model to `topology` and plans it.
    public init(topology base: Topology, scenario: Scenario) throws(SimError) {
        var topology = base
        topology.chunkSize = scenario.chunkSize
        if let uplink = scenario.links.uplink {
            topology.defaults.uplink = uplink
            for i in topology.nodes.indices { topology.nodes[i].uplink = nil }
            for r in topology.racks.indices { topology.racks[r].uplink = nil }
        }
        if let ledgerUplink = scenario.links.ledgerUplink { topology.ledger.uplink = ledgerUplink }
        for tier in Tier.allCases {
            if let link = scenario.links.tiers[tier] {
                topology.defaults.links[tier] = link
                if tier == .inRack { for r in topology.racks.indices { topology.racks[r].inRackLink = nil } }
            }
        }
        let key = Key(digest: (0..<32).map { UInt8(truncatingIfNeeded: scenario.seed >> (($0 % 8) * 8)) })
        let deployment = Deployment(version: 1, topologyKey: key, seed: scenario.seed, stripes: scenario.stripes, bundleSize: scenario.bundleSize)
        do {
            planned = try Planner().plan(topology, deployment)
        } catch {
            throw SimError(.planning, file: scenario.file, field: "topology", problem: "the planner cannot plan this fleet: \(error)", fix: "check the topology's fan-out and uplink limits")
        }
        self.topology = topology
        let index = planned.topologyIndex
        uplink = index.map { topology.uplink(of: Int($0)).bytesPerSecond }
        rack = index.map { topology.nodes[Int($0)].rack }
        zone = index.map { topology.nodes[Int($0)].zone }
        region = index.map { topology.nodes[Int($0)].region }
        ledgerUplink = topology.ledgerUplink.bytesPerSecond
    }

    /// The link between two positions: (tier, bandwidth in bytes/s, one-way latency in seconds). A position with
    /// rack −1 is the ledger's (or the hub's beside it): in the ledger's zone, in no rack.
    func link(fromRack ra: Int32, zone za: Int32, region ga: Int32, toRack rb: Int32, zone zb: Int32, region gb: Int32) -> (Tier, Double, Double) {
        let tier: Tier
        if ra >= 0 && ra == rb {
            tier = .inRack
        } else if za == zb {
            tier = .crossRack
        } else if ga == gb {
            tier = .crossZone
        } else {
            tier = .crossRegion
        }
        let rackOfLink = rb >= 0 ? Int(rb) : Int(max(ra, 0))
        let l = topology.link(tier, inRack: rackOfLink)
        return (tier, l.bandwidth.bytesPerSecond, l.latency.seconds)
    }

    /// Plan nodes in `region/zone`; nil when there is no such zone.
    public func nodes(inZone path: String) -> [Int]? {
        let parts = path.split(separator: "/").map(String.init)
        guard parts.count == 2 else { return nil }
        guard let z = topology.zones.indices.first(where: {
            topology.zones[$0].name == parts[1] && topology.regions[topology.zones[$0].region].name == parts[0]
        }) else { return nil }
        return (0..<nodeCount).filter { zone[$0] == Int32(z) }
    }

    /// Index of the zone `region/zone`.
    func zoneIndex(_ path: String) -> Int? {
        let parts = path.split(separator: "/").map(String.init)
        guard parts.count == 2 else { return nil }
        return topology.zones.indices.first {
            topology.zones[$0].name == parts[1] && topology.regions[topology.zones[$0].region].name == parts[0]
        }
    }

    /// Nominal uplink B of the fleet, bytes per second: T_opt's B.
    public var nominalUplink: Double { topology.defaults.uplink.bytesPerSecond }

    /// T_opt = S/B + log2(N)·c/B (DESIGN §8).
    public func optimalTime(bundleSize: Int64) -> Double {
        CostModel(topology: topology).optimalTime(nodes: nodeCount, bundleSize: bundleSize)
    }
}
