import BenCore
import BenTopology

/// How `benctl topology plan` shows a plan: indented trees, Graphviz DOT, or JSON.
struct PlanView {
    let topology: Topology
    let planned: PlannedDeployment

    var plan: Plan { planned.plan }

    func location(_ i: Int) -> String { topology.location(of: Int(planned.topologyIndex[i])) }

    func header(topologyKey: Key, planKey: Key) -> String {
        let k = plan.stripeCount
        var out = "plan for fleet \(plan.fleet) \(plan.version): \(counted(plan.nodes.count, "node")), \(counted(k, "stripe tree")), "
        out += "relays up to \(planned.nominalFanOut) children at the nominal uplink, bundle streams at \(planned.streamRate)\n"
        out += "topology \(topologyKey.short)…, plan \(planKey.short)…\n"
        if !planned.excluded.isEmpty {
            // By reason, naming the first few of each.
            for reason in [Exclusion.Reason.unreachable, .down, .maintenance] {
                let nodes = planned.excluded.filter { $0.reason == reason }.map(\.node.rawValue)
                guard !nodes.isEmpty else { continue }
                let shown = nodes.prefix(8).joined(separator: ", ")
                let more = nodes.count > 8 ? " and \(nodes.count - 8) more" : ""
                out += "left out, \(reason.rawValue): \(nodes.count) (\(shown)\(more))\n"
            }
        }
        for note in planned.notes { out += "note: \(note)\n" }
        return out
    }

    /// Each stripe tree as an indented tree, then every node's backups.
    func indented() -> String {
        var out = ""
        let n = plan.nodes.count
        let k = plan.stripeCount
        for s in 0..<k {
            let order = planned.forwardingOrder(stripe: s)
            let chunks = k == 1 ? "every chunk" : "chunks \(s), \(s + k), \(s + 2 * k), …"
            out += "\nstripe \(s) (\(chunks)\(s == 0 ? "; acks flow up this tree" : "")):\n"
            out += "ledger \(topology.ledger.address)\n"
            // Depth-first, children in forwarding order.
            var stack: [(node: Int32, prefix: String, last: Bool)] = order[n].reversed().enumerated().map {
                ($0.element, "", $0.offset == 0)
            }
            while let (x, prefix, last) = stack.popLast() {
                let i = Int(x)
                let kids = order[i]
                let role = kids.isEmpty ? "" : "  [relay: \(kids.count) \(kids.count == 1 ? "child" : "children")]"
                out += "\(prefix)\(last ? "└─ " : "├─ ")\(plan.nodes[i].id)  \(location(i))\(role)\n"
                let childPrefix = prefix + (last ? "   " : "│  ")
                for (j, c) in kids.enumerated().reversed() { stack.append((c, childPrefix, j == kids.count - 1)) }
            }
        }
        out += "\nbackups (best first):\n"
        for i in 0..<n {
            let list = plan.backups[i].map { plan.nodes[Int($0)].id.rawValue }.joined(separator: ", ")
            out += "  \(plan.nodes[i].id): \(list.isEmpty ? "none (every other node is an ancestor or descendant)" : list)\n"
        }
        out += "\n"
        return out
    }

    /// The stripe trees as one Graphviz graph: nodes clustered by region, zone and rack; one colour per stripe.
    func dot() -> String {
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
        var out = "digraph plan {\n  rankdir=TB;\n  node [shape=box, fontsize=10];\n"
        out += "  ledger [label=\"ledger\\n\(topology.ledger.address)\", shape=doubleoctagon];\n"
        var byRack: [Int32: [Int]] = [:]
        for i in 0..<plan.nodes.count { byRack[topology.nodes[Int(planned.topologyIndex[i])].rack, default: []].append(i) }
        for (g, region) in topology.regions.enumerated() {
            out += "  subgraph cluster_region_\(g) {\n    label=\"\(region.name)\";\n"
            for z in region.zones {
                out += "    subgraph cluster_zone_\(z) {\n      label=\"\(topology.zones[z].name)\";\n"
                for r in topology.zones[z].racks {
                    guard let members = byRack[Int32(r)] else { continue }
                    out += "      subgraph cluster_rack_\(r) {\n        label=\"\(topology.racks[r].name)\";\n"
                    for i in members { out += "        \"\(plan.nodes[i].id)\";\n" }
                    out += "      }\n"
                }
                out += "    }\n"
            }
            out += "  }\n"
        }
        for s in 0..<plan.stripeCount {
            let color = colors[s % colors.count]
            for (i, p) in plan.stripes[s].enumerated() {
                let from = p < 0 ? "ledger" : "\"\(plan.nodes[Int(p)].id)\""
                out += "  \(from) -> \"\(plan.nodes[i].id)\" [color=\"\(color)\", label=\"\(s)\", fontsize=8];\n"
            }
        }
        out += "}\n"
        return out
    }

    /// `plan` is the plan document itself (parents as indexes into its node list, as it is hashed and signed);
    /// `parents` and `backups` say the same by node id, for people and scripts: in each stripe tree, every node's
    /// parent (`ledger` for the ledger), and every node's backups, best first.
    func json(report: CostReport, topologyKey: Key, planKey: Key) -> JSONValue {
        let ids = plan.nodes.map(\.id.rawValue)
        let parents: [JSONValue] = plan.stripes.map { stripe in
            var byNode: [String: JSONValue] = [:]
            for (i, p) in stripe.enumerated() { byNode[ids[i]] = .string(p == Plan.ledger ? "ledger" : ids[Int(p)]) }
            return .object(byNode)
        }
        var backups: [String: JSONValue] = [:]
        for (i, list) in plan.backups.enumerated() { backups[ids[i]] = .array(list.map { .string(ids[Int($0)]) }) }
        return [
            "plan": plan.json,
            "parents": .array(parents),
            "backups": .object(backups),
            "plan_key": .string(planKey.hex),
            "topology_key": .string(topologyKey.hex),
            "stripes": .int(Int64(plan.stripeCount)),
            "nominal_fan_out": .int(Int64(planned.nominalFanOut)),
            "stream_rate_bps": .int(planned.streamRate.bitsPerSecond),
            "relay_stripe": .array(planned.relayStripe.map { .int(Int64($0)) }),
            "excluded": .array(planned.excluded.map { ["node": .string($0.node.rawValue), "reason": .string($0.reason.rawValue)] }),
            "notes": .array(planned.notes.map { .string($0) }),
            "cost": report.json,
        ]
    }
}
