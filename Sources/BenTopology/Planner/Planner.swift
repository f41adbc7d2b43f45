import BenCore

/// Turns a topology and a deployment into a plan: a forest of k stripe trees rooted at the ledger, each
/// covering every target node exactly once (DESIGN §1, §3 step 4). Pure: no IO, no clock, and no randomness
/// but the deployment's seed, so the same input always gives the same plan.
///
/// ## The bandwidth model and the shape it leads to
///
/// Each node's upload is capped at its uplink U (DESIGN §8); B is the fleet's nominal uplink
/// (`defaults.uplink`). A plain tree whose relays have f children streams at B/f and needs about f·S/B. With
/// k stripe trees, in which every node relays in one tree and is a leaf in the others, the bundle streams at
/// rate R = k·B/m when relays have m children (each uploads m × R/k = B): with m = k a node uploads exactly one
/// bundle and completion approaches S/B + depth·c/B, against the bound T_opt = S/B + log2(N)·c/B.
///
/// The planner picks k (unless the topology or deployment fixes it) and the nominal fan-out m ≥ 2 among the
/// shapes capacity can carry: every stripe needs a parent slot for each of its N nodes, from its own relays (a
/// relay with uplink U may have min(fan-out, ⌊m·U/B⌋) children) and from the ledger (which has min(its fan-out,
/// ⌊m·U_ledger/B⌋) children over all stripes, at least one per stripe). Of those it prefers the shapes that
/// keep racks to about one entry per stripe, and among them the one with the smallest predicted completion
/// (`ShapeSearch`). Each stripe tree is then built by `StripeBuilder`, and backups chosen by `Backups`.
///
/// ## What a plan guarantees
///
/// - every stripe tree covers every planned node exactly once, without cycles, rooted at the ledger;
/// - a node has children in at most one stripe tree (`relayStripe`), never more than its `capacity`, which
///   keeps its upload within its uplink at the plan's `streamRate` and within its fan-out per tier;
/// - never-relay nodes are leaves in every tree;
/// - inside each stripe tree a rack, zone or region is entered once, plus once for each node its own
///   capacity cannot reach;
/// - every node has backups (nearby nodes that are neither its ancestors nor its descendants in any
///   stripe tree), best first, whenever such a node exists;
/// - nodes that are down or in maintenance are left out (`excluded`), and everyone else is planned unless
///   the constraints make it impossible (then `excluded` says `unreachable`).
public struct Planner: Sendable {
    /// The most stripe trees a plan may have.
    public static let maxStripes = 64

    /// The planner's knobs. The defaults are what the ledger uses.
    public struct Settings: Sendable, Hashable {
        /// How many backups to give each node (best first).
        public var backups: Int
        /// The values of k the planner tries when neither topology nor deployment fixes it.
        public var stripeChoices: ClosedRange<Int>
        /// The bundle size the planner assumes when choosing k, if the deployment gives none.
        public var bundleSize: Int64

        public init(backups: Int = 2, stripeChoices: ClosedRange<Int> = 1...8, bundleSize: Int64 = 64 << 20) {
            self.backups = backups
            self.stripeChoices = stripeChoices
            self.bundleSize = bundleSize
        }
    }

    public var settings: Settings

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// The plan for `deployment` over `topology`.
    ///
    /// - Throws: `TopologyError` with code `badRequest` for a deployment that names an unknown node, role or
    ///   location or asks for an impossible k, and `noTargets` when nothing is left to deploy to.
    public func plan(_ topology: Topology, _ deployment: Deployment) throws(TopologyError) -> PlannedDeployment {
        let (targets, excludedAtStart) = try resolveTargets(topology, deployment)
        var excluded = excludedAtStart
        var notes: [String] = []
        let fleet = PlanningFleet(topology: topology, targets: targets, seed: deployment.seed)
        let requested = deployment.stripes ?? topology.stripes
        if let k = requested, !(1...Self.maxStripes).contains(k) {
            throw TopologyError(
                .badRequest, field: "stripes", problem: "\(k) stripe trees is outside 1…\(Self.maxStripes)",
                fix: "ask for 1 (a plain tree) to 8, or let the planner choose")
        }
        let bundleSize = deployment.bundleSize ?? settings.bundleSize

        let search = ShapeSearch(fleet: fleet, chunkSize: topology.chunkSize, bundleSize: bundleSize)
        // A requested k is honoured when the constraints can carry it; otherwise the largest k below it that they
        // can. Left to itself, the planner weighs every k in `stripeChoices`.
        var best: (shape: Shape, stripes: [[Int32]])?
        let groups: [[Int]] = requested.map { k in (1...k).reversed().map { [$0] } }
            ?? [Array(settings.stripeChoices.clamped(to: 1...max(1, min(Self.maxStripes, fleet.count))))]
        search: for group in groups {
            for candidate in search.candidates(stripes: group) {
                let built = build(fleet, candidate.shape)
                if built.complete {
                    best = (candidate.shape, built.stripes)
                    break search
                }
            }
        }
        if let k0 = requested, let chosen = best?.shape.k, chosen != k0 {
            notes.append(
                "\(k0) stripe trees cannot reach every node under the fan-out and uplink limits; planned \(chosen)")
        }

        var planTargets = targets
        let shape: Shape
        let stripes: [[Int32]]
        if let best {
            shape = best.shape
            stripes = best.stripes
        } else {
            // Not every node can be reached even by a plain tree with the widest fan-out: plan what that tree
            // connects and report the rest as unreachable.
            let widest = search.shape(k: 1, m: search.widest)
            let built = build(fleet, widest)
            let (kept, remapped) = Self.connectedPart(built.stripes[0])
            for (t, keep) in kept.enumerated() where !keep {
                excluded.append(Exclusion(node: topology.nodes[Int(targets[t])].id, reason: .unreachable))
            }
            planTargets = targets.enumerated().filter { kept[$0.offset] }.map(\.element)
            guard !planTargets.isEmpty else {
                throw TopologyError(
                    .unreachable, field: "ledger.max_fan_out",
                    problem: "no targeted node can be reached: the ledger's fan-out or uplink allows it no child",
                    fix: "raise ledger.max_fan_out or the ledger's uplink")
            }
            shape = widest.restricted(to: kept)
            stripes = [remapped]
            notes.append("\(targets.count - planTargets.count) nodes cannot be reached under the fan-out and uplink limits")
        }

        let nodes = planTargets.map { PlanNode(id: topology.nodes[Int($0)].id, address: topology.nodes[Int($0)].address) }
        let backupFleet = planTargets.count == targets.count ? fleet : PlanningFleet(topology: topology, targets: planTargets, seed: deployment.seed)
        let backups = Backups.choose(fleet: backupFleet, stripes: stripes, count: settings.backups)
        let b = topology.defaults.uplink.bitsPerSecond
        let rate = Bandwidth(bitsPerSecond: max(1, Int64(shape.k) * b / Int64(shape.m)))!
        // Each stripe flows at R/k: what a child may expect of its parent's link, and a relay of its upload.
        let plan = Plan(
            fleet: topology.fleet, version: deployment.version, topology: deployment.topologyKey, nodes: nodes,
            stripes: stripes, backups: backups, stripeRate: max(1, Int64(rate.bytesPerSecond) / Int64(stripes.count)))
        return PlannedDeployment(
            plan: plan, topologyIndex: planTargets, excluded: excluded, nominalFanOut: shape.m, streamRate: rate,
            relayStripe: shape.home, capacity: shape.capacity, ledgerCapacity: shape.ledgerCapacity, notes: notes)
    }

    /// Builds every stripe tree of `shape`, stopping at the first in which some node found no parent
    /// (its parent is then `StripeBuilder.unassigned`).
    func build(_ fleet: PlanningFleet, _ shape: Shape) -> (stripes: [[Int32]], complete: Bool) {
        var builder = StripeBuilder(fleet: fleet, shape: shape)
        var out: [[Int32]] = []
        for s in 0..<shape.k {
            let (tree, complete) = builder.build(stripe: s, ledgerSlots: shape.ledgerSlots[s])
            out.append(tree)
            if !complete { return (out, false) }
        }
        return (out, true)
    }

    /// Which nodes of a failed plain tree reach the ledger, and the parent array over just those.
    static func connectedPart(_ parents: [Int32]) -> (kept: [Bool], parents: [Int32]) {
        let n = parents.count
        var state = [Int8](repeating: 0, count: n)  // 0 unknown, 1 connected, 2 not
        for start in 0..<n where state[start] == 0 {
            var path: [Int] = []
            var x = start
            var result: Int8 = 2
            while true {
                if state[x] != 0 {
                    result = state[x]
                    break
                }
                path.append(x)
                let p = parents[x]
                if p == -1 {
                    result = 1
                    break
                }
                if p < 0 {
                    break
                }
                x = Int(p)
            }
            for i in path { state[i] = result }
        }
        var newIndex = [Int32](repeating: -1, count: n)
        var next: Int32 = 0
        for i in 0..<n where state[i] == 1 {
            newIndex[i] = next
            next += 1
        }
        var remapped: [Int32] = []
        remapped.reserveCapacity(Int(next))
        for i in 0..<n where state[i] == 1 {
            remapped.append(parents[i] == -1 ? -1 : newIndex[Int(parents[i])])
        }
        return (state.map { $0 == 1 }, remapped)
    }

    // MARK: Targets

    func resolveTargets(_ topology: Topology, _ deployment: Deployment) throws(TopologyError) -> ([Int32], [Exclusion]) {
        let selector = deployment.selector
        var index: [NodeID: Int]?
        var downSet = Set<Int>()
        if !deployment.down.isEmpty || !selector.nodes.isEmpty { index = topology.indexByID() }
        for id in deployment.down {
            guard let i = index?[id] else {
                throw TopologyError(
                    .badRequest, field: "down", problem: "no node '\(id)' in this topology",
                    fix: "name nodes by their id in the topology file")
            }
            downSet.insert(i)
        }
        var named: [Bool]?
        if !selector.nodes.isEmpty {
            var flags = [Bool](repeating: false, count: topology.nodes.count)
            for id in selector.nodes {
                guard let i = index?[id] else {
                    throw TopologyError(
                        .badRequest, field: "nodes", problem: "no node '\(id)' in this topology",
                        fix: "name nodes by their id in the topology file")
                }
                flags[i] = true
            }
            named = flags
        }
        var inLocation: [Bool]?
        if !selector.locations.isEmpty {
            var racks = [Bool](repeating: false, count: topology.racks.count)
            for location in selector.locations {
                let parts = location.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                var matched = false
                for (r, rack) in topology.racks.enumerated() {
                    let path = [topology.regions[rack.region].name, topology.zones[rack.zone].name, rack.name]
                    if parts.count <= 3 && Array(path.prefix(parts.count)) == parts {
                        racks[r] = true
                        matched = true
                    }
                }
                guard matched else {
                    throw TopologyError(
                        .badRequest, field: "location", problem: "no region, zone or rack '\(location)' in this topology",
                        fix: "write region, region/zone or region/zone/rack, such as \(topology.location(ofRack: 0))")
                }
            }
            inLocation = racks
        }
        let roles = RoleSet(selector.roles)
        var targets: [Int32] = []
        var excluded: [Exclusion] = []
        var matchedAny = false
        for (i, node) in topology.nodes.enumerated() {
            if !roles.isEmpty && node.roles.isDisjoint(with: roles) { continue }
            if let named, !named[i] { continue }
            if let inLocation, !inLocation[Int(node.rack)] { continue }
            matchedAny = true
            if node.maintenance {
                excluded.append(Exclusion(node: node.id, reason: .maintenance))
            } else if downSet.contains(i) {
                excluded.append(Exclusion(node: node.id, reason: .down))
            } else {
                targets.append(Int32(i))
            }
        }
        guard !targets.isEmpty else {
            throw TopologyError(
                .noTargets, field: "",
                problem: matchedAny
                    ? "every node selected (\(selector)) is down or in maintenance"
                    : "no node matches the selection (\(selector))",
                fix: "select other roles or locations, or bring nodes back")
        }
        return (targets, excluded)
    }
}

/// One candidate shape: k stripe trees, nominal fan-out m, and what follows from them per node.
struct Shape {
    var k: Int
    var m: Int
    /// Per target: children allowed in its relay stripe.
    var capacity: [Int32]
    /// Per target: the stripe it relays in, or -1.
    var home: [Int8]
    var ledgerCapacity: Int
    /// Ledger children reserved for each stripe.
    var ledgerSlots: [Int]

    /// The same shape over the targets that `kept` keeps.
    func restricted(to kept: [Bool]) -> Shape {
        var copy = self
        copy.capacity = zip(capacity, kept).filter(\.1).map(\.0)
        copy.home = zip(home, kept).filter(\.1).map(\.0)
        return copy
    }
}
