public import BenCore

/// Small hand-shaped plans for protocol tests, independent of the planner (so protocol tests do not depend on
/// planner behaviour): node i relays only in stripe i mod k, each stripe tree is filled breadth-first with
/// that stripe's relays first, and node i's backup is node i+1. The ledger feeds `rootFanOut` nodes per tree.
public enum TestPlans {
    public static func striped(
        fleet: FleetName = FleetName("test")!, version: Version = 1, nodes count: Int, stripes: Int, fanOut: Int,
        rootFanOut: Int = 1, topology: Key = Key(digest: [UInt8](repeating: 7, count: 32)), basePort: Int = 7401,
        names: [NodeID]? = nil
    ) -> Plan {
        let nodes = (0..<count).map {
            PlanNode(id: names?[$0] ?? NodeID("n\($0)")!, address: HostPort(host: "127.0.0.1", port: basePort + $0)!)
        }
        var trees: [[Int32]] = []
        for s in 0..<stripes {
            let relays = (0..<count).filter { $0 % stripes == s }
            let leaves = (0..<count).filter { $0 % stripes != s }
            let order = relays + leaves
            var parents = [Int32](repeating: Plan.ledger, count: count)
            // order[0..<rootFanOut] hang off the ledger; order[j] after that hangs off order[(j - rootFanOut) / fanOut].
            for (j, node) in order.enumerated() where j >= rootFanOut {
                parents[node] = Int32(order[(j - rootFanOut) / fanOut])
            }
            trees.append(parents)
        }
        let backups = (0..<count).map { [Int32(($0 + 1) % count)] }
        return Plan(fleet: fleet, version: version, topology: topology, nodes: nodes, stripes: trees, backups: count > 1 ? backups : [[]])
    }
}
