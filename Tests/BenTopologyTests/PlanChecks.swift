import BenCore
import BenTopology

/// Checks a plan against every property issue 4 asks of the planner, independently of how the planner works:
/// each check recomputes what it needs from the topology and the plan alone. Returns what is violated.
struct PlanChecks {
    let topology: Topology
    let deployment: Deployment
    let planned: PlannedDeployment

    var plan: Plan { planned.plan }
    var n: Int { plan.nodes.count }
    var k: Int { plan.stripeCount }

    func node(_ i: Int) -> TopologyNode { topology.nodes[Int(planned.topologyIndex[i])] }

    /// The nodes the deployment selects, by topology index.
    func selected() -> [Int] {
        let roles = RoleSet(deployment.selector.roles)
        return topology.nodes.indices.filter { roles.isEmpty || !topology.nodes[$0].roles.isDisjoint(with: roles) }
    }

    func children(_ s: Int) -> [[Int]] {
        var out = [[Int]](repeating: [], count: n + 1)
        for (i, p) in plan.stripes[s].enumerated() { out[p < 0 ? n : Int(p)].append(i) }
        return out
    }

    /// Every stripe tree covers every planned node exactly once, rooted at the ledger, without cycles; and the
    /// planned nodes are the selected ones less the excluded, each excluded for the right reason.
    func coverage() -> [String] {
        var problems: [String] = []
        if let problem = plan.validate() { problems.append("plan.validate: \(problem)") }
        for s in 0..<k {
            guard plan.stripes[s].count == n else { problems.append("stripe \(s) has \(plan.stripes[s].count) parents"); continue }
            // Walk from every node to the root: must reach the ledger within n steps.
            for start in 0..<n {
                var x = start
                var steps = 0
                while x >= 0 && steps <= n {
                    x = Int(plan.stripes[s][x])
                    steps += 1
                }
                if x != -1 { problems.append("stripe \(s): node \(plan.nodes[start].id) does not reach the ledger") }
            }
        }
        let planned = Set(plan.nodes.map(\.id))
        let down = Set(deployment.down)
        var excluded: [NodeID: Exclusion.Reason] = [:]
        for e in self.planned.excluded { excluded[e.node] = e.reason }
        for i in selected() {
            let node = topology.nodes[i]
            let expected: Exclusion.Reason? = node.maintenance ? .maintenance : down.contains(node.id) ? .down : nil
            if let expected {
                if planned.contains(node.id) { problems.append("\(node.id) is \(expected) but planned") }
                if excluded[node.id] != expected { problems.append("\(node.id) should be excluded as \(expected)") }
            } else if !planned.contains(node.id) && excluded[node.id] != .unreachable {
                problems.append("\(node.id) is neither planned nor excluded")
            }
        }
        if planned.count != n { problems.append("a node is planned twice") }
        return problems
    }

    /// Each node has children in at most one stripe tree, the one `relayStripe` names; never-relay nodes have
    /// none anywhere.
    func relayDuty() -> [String] {
        var problems: [String] = []
        var interior = [Set<Int>](repeating: [], count: n)
        for s in 0..<k { for (i, p) in plan.stripes[s].enumerated() where p >= 0 { _ = i; interior[Int(p)].insert(s) } }
        for i in 0..<n {
            if interior[i].count > 1 { problems.append("\(plan.nodes[i].id) relays in stripes \(interior[i].sorted())") }
            if let s = interior[i].first, Int(planned.relayStripe[i]) != s {
                problems.append("\(plan.nodes[i].id) relays in \(s) but its relay stripe is \(planned.relayStripe[i])")
            }
            if node(i).duty == .never && !interior[i].isEmpty { problems.append("never-relay \(plan.nodes[i].id) has children") }
        }
        return problems
    }

    /// No node has more children than its capacity, its fan-out, or its per-tier fan-out, and its upload at the
    /// plan's stream rate (children × R/k) stays within its uplink; the same for the ledger.
    func bounds() -> [String] {
        var problems: [String] = []
        let rate = Double(planned.streamRate.bitsPerSecond)
        var ledgerChildren = 0
        for s in 0..<k {
            let kids = children(s)
            ledgerChildren += kids[n].count
            for i in 0..<n where !kids[i].isEmpty {
                let t = Int(planned.topologyIndex[i])
                let fan = topology.maxFanOut(of: t)
                let c = kids[i].count
                if c > Int(planned.capacity[i]) { problems.append("\(plan.nodes[i].id): \(c) children > capacity \(planned.capacity[i])") }
                if c > fan.total { problems.append("\(plan.nodes[i].id): \(c) children > fan-out \(fan.total)") }
                var perTier = [Int](repeating: 0, count: 4)
                for child in kids[i] { perTier[topology.tier(from: t, to: Int(planned.topologyIndex[child])).rawValue] += 1 }
                for tier in Tier.allCases where perTier[tier.rawValue] > fan[tier] {
                    problems.append("\(plan.nodes[i].id): \(perTier[tier.rawValue]) \(tier) children > \(fan[tier])")
                }
                let upload = Double(c) * rate / Double(k)
                if upload > Double(topology.uplink(of: t).bitsPerSecond) * (1 + 1e-9) {
                    problems.append("\(plan.nodes[i].id): uploads \(upload) bit/s > uplink \(topology.uplink(of: t))")
                }
            }
        }
        if ledgerChildren > topology.ledgerMaxFanOut { problems.append("ledger has \(ledgerChildren) children > \(topology.ledgerMaxFanOut)") }
        if Double(ledgerChildren) * rate / Double(k) > Double(topology.ledgerUplink.bitsPerSecond) * (1 + 1e-9) {
            problems.append("ledger uploads more than its uplink")
        }
        return problems
    }

    /// How many edges enter each group of nodes from outside it in stripe s, and the fewest that capacity
    /// allows: the group's nodes need one parent each, and the group's own relays for s can give at most the sum
    /// of their capacities (in-rack fan-out too, for a rack), so at least max(1, |G| − that) come from outside.
    func crossings(stripe s: Int, level: (TopologyNode) -> Int32, inRackLimit: Bool) -> [(group: Int32, entries: Int, fewest: Int)] {
        var members: [Int32: [Int]] = [:]
        for i in 0..<n { members[level(node(i)), default: []].append(i) }
        var out: [(Int32, Int, Int)] = []
        for (group, nodes) in members {
            var entries = 0
            var supply = 0
            for i in nodes {
                let p = plan.stripes[s][i]
                if p < 0 || level(node(Int(p))) != group { entries += 1 }
                if Int(planned.relayStripe[i]) == s {
                    let cap = Int(planned.capacity[i])
                    supply += inRackLimit ? min(cap, topology.maxFanOut(of: Int(planned.topologyIndex[i]))[.inRack]) : cap
                }
            }
            out.append((group, entries, max(1, nodes.count - supply)))
        }
        return out.sorted { $0.0 < $1.0 }
    }

    func minimalCrossings(exact: Bool) -> [String] {
        var problems: [String] = []
        for s in 0..<k {
            for (name, level, limit) in [
                ("rack", { (x: TopologyNode) in x.rack }, true), ("zone", { $0.zone }, false),
                ("region", { $0.region }, false),
            ] {
                for (group, entries, fewest) in crossings(stripe: s, level: level, inRackLimit: limit) {
                    if entries < fewest || (exact && entries != fewest) {
                        problems.append("stripe \(s): \(name) \(group) entered \(entries) times; capacity allows \(fewest)")
                    }
                }
            }
        }
        return problems
    }

    /// Backups are other planned nodes, never an ancestor or descendant of the node in any stripe tree, and
    /// every node has one whenever such a node exists.
    func backups() -> [String] {
        var problems: [String] = []
        func ancestors(_ i: Int, _ s: Int) -> Set<Int> {
            var out = Set<Int>()
            var x = Int(plan.stripes[s][i])
            while x >= 0 {
                out.insert(x)
                x = Int(plan.stripes[s][x])
            }
            return out
        }
        var related = [Set<Int>](repeating: [], count: n)
        for s in 0..<k {
            for i in 0..<n {
                for a in ancestors(i, s) {
                    related[i].insert(a)
                    related[a].insert(i)
                }
            }
        }
        for i in 0..<n {
            for b in plan.backups[i].map(Int.init) {
                if b == i || related[i].contains(b) { problems.append("\(plan.nodes[i].id) has backup \(plan.nodes[b].id) in its own chain") }
            }
            let eligible = (0..<n).contains { $0 != i && !related[i].contains($0) }
            if eligible && plan.backups[i].isEmpty { problems.append("\(plan.nodes[i].id) has no backup though one exists") }
            if Set(plan.backups[i]).count != plan.backups[i].count { problems.append("\(plan.nodes[i].id) lists a backup twice") }
        }
        return problems
    }

    /// True when the ledger and the live nodes allowed to relay could give every planned node a parent: then
    /// nobody may be left out as unreachable.
    func everyoneReachable() -> Bool {
        let down = Set(deployment.down)
        let live = selected().filter { !topology.nodes[$0].maintenance && !down.contains(topology.nodes[$0].id) }
        var places = topology.ledgerMaxFanOut
        for i in live where topology.nodes[i].duty != .never { places += topology.maxFanOut(of: i).total }
        return places >= live.count
    }
}
