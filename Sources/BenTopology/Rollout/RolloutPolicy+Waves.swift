public import BenCore

/// One wave of a policy, resolved against a topology: the nodes it takes, in id order.
public struct WaveTargets: Sendable, Hashable {
    public var name: String
    public var nodes: [NodeID]

    public init(name: String, nodes: [NodeID]) {
        self.name = name
        self.nodes = nodes
    }
}

extension RolloutPolicy {
    /// Splits a deployment's targets (indexes into `topology.nodes`, as its selector selected them) into the policy's
    /// waves, in order: each wave takes, of the targets no earlier wave took, those its selector matches.
    ///
    /// Every name is checked against the topology (an unknown one is refused with the nearest known name, the field
    /// named `waves[i].select.roles`). A wave that takes no target, and targets that no wave takes, are refused too:
    /// a canary that silently selects nothing would let the rollout go straight to the fleet.
    public func resolve(in topology: Topology, targets: [Int]) throws(TopologyError) -> [WaveTargets] {
        var taken = Set<Int>()
        var out: [WaveTargets] = []
        for (i, wave) in waves.enumerated() {
            let field = "waves[\(i)]"
            var candidates = targets.filter { !taken.contains($0) }
            let request = SelectorRequest(roles: wave.select.roles, locations: wave.select.locations, nodes: wave.select.nodes)
            if !request.isEmpty {
                let fields = SelectorRequest.Fields(
                    roles: "\(field).select.roles", locations: "\(field).select.locations", nodes: "\(field).select.nodes")
                let selector = try Selector.checked(request, in: topology, fields: fields)
                let selected = Set(selector.selectedNodes(in: topology))
                candidates = candidates.filter { selected.contains($0) }
            }
            if let percent = wave.select.rackPercent {
                let byRack = Dictionary(grouping: candidates) { topology.nodes[$0].rack }
                candidates = byRack.values.flatMap { nodes in
                    let sorted = nodes.sorted { topology.nodes[$0].id < topology.nodes[$1].id }
                    return sorted.prefix(max(1, (sorted.count * percent + 99) / 100))
                }
            }
            guard !candidates.isEmpty else {
                throw TopologyError(
                    .noTargets, field: field,
                    problem: "wave \(wave.name) (\(wave.select.description)) takes none of this deployment's \(targets.count) targets"
                        + (i > 0 ? " that earlier waves left" : ""),
                    fix: "nothing was done; change its selector, or remove the wave")
            }
            taken.formUnion(candidates)
            out.append(WaveTargets(name: wave.name, nodes: candidates.map { topology.nodes[$0].id }.sorted()))
        }
        let left = targets.filter { !taken.contains($0) }.map { topology.nodes[$0].id }.sorted()
        if !left.isEmpty {
            let shown = left.prefix(5).map(\.rawValue).joined(separator: ", ") + (left.count > 5 ? ", …" : "")
            throw TopologyError(
                .badRequest, field: "waves",
                problem: "the waves take \(targets.count - left.count) of \(targets.count) targets; \(left.count) are in no wave (\(shown))",
                fix: "nothing was done; add a last wave with no selector (every target left)")
        }
        return out
    }
}
