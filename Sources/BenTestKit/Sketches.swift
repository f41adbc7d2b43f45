public import BenCore

/// Plans written the way they are drawn, so a test reads like the situation it sets up (CONVENTIONS, Tests):
///
///     stripe 0
///       ledger -> n0
///       n0 -> n1, n2
///     stripe 1
///       ledger -> n1
///       n1 -> n0, n2
///     backups n2: n0
///
/// Without a `stripe` line the plan has one stripe tree. Nodes are numbered in the order they first appear
/// (so `n0` is plan node 0 above) and listen on consecutive loopback ports. A line that does not parse is a
/// programmer error in the test and stops it, naming the line.
public enum PlanSketch {
    public static func plan(
        _ text: String, fleet: FleetName = FleetName("test")!, version: Version = 1, basePort: Int = 7401,
        topology: Key = Key(digest: [UInt8](repeating: 7, count: 32))
    ) -> Plan {
        var order: [NodeID] = []
        var index: [NodeID: Int] = [:]
        func node(_ name: some StringProtocol, line: String) -> Int {
            guard let id = NodeID(String(name)) else { preconditionFailure("plan sketch: '\(name)' is not a node id in line '\(line)'") }
            if let i = index[id] { return i }
            index[id] = order.count
            order.append(id)
            return order.count - 1
        }
        var edges: [[(parent: Int?, child: Int)]] = []
        var backups: [(node: Int, of: [Int])] = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: " ")
            if line.isEmpty { continue }
            if line.hasPrefix("stripe") {
                edges.append([])
            } else if line.hasPrefix("backups ") {
                let parts = line.dropFirst("backups ".count).split(separator: ":", maxSplits: 1)
                precondition(parts.count == 2, "plan sketch: expected 'backups NODE: NODE, …' in '\(line)'")
                let of = parts[1].split(separator: ",").map { node($0.trimmingCharacters(in: " "), line: line) }
                backups.append((node(parts[0].trimmingCharacters(in: " "), line: line), of))
            } else {
                let parts = line.components(separatedBy: "->")
                precondition(parts.count == 2, "plan sketch: expected 'PARENT -> CHILD, …' in '\(line)'")
                if edges.isEmpty { edges.append([]) }
                let parentName = parts[0].trimmingCharacters(in: " ")
                let parent: Int? = parentName == "ledger" ? nil : node(parentName, line: line)
                for child in parts[1].split(separator: ",") {
                    edges[edges.count - 1].append((parent, node(child.trimmingCharacters(in: " "), line: line)))
                }
            }
        }
        let nodes = order.enumerated().map { PlanNode(id: $1, address: HostPort(host: "127.0.0.1", port: basePort + $0)!) }
        let stripes: [[Int32]] = edges.map { tree in
            var parents = [Int32](repeating: Plan.ledger, count: nodes.count)
            var placed = Set<Int>()
            for edge in tree {
                parents[edge.child] = edge.parent.map(Int32.init) ?? Plan.ledger
                placed.insert(edge.child)
            }
            precondition(placed.count == nodes.count, "plan sketch: every stripe tree must place every node once")
            return parents
        }
        var backupLists = [[Int32]](repeating: [], count: nodes.count)
        for entry in backups { backupLists[entry.node] = entry.of.map(Int32.init) }
        let plan = Plan(fleet: fleet, version: version, topology: topology, nodes: nodes, stripes: stripes, backups: backupLists)
        precondition(plan.validate() == nil, "plan sketch: \(plan.validate()!)")
        return plan
    }
}

/// What nodes answered about a version, one line each, for feeding the deployment machine:
///
///     n0 active
///     n1 refused: compile: bad rule
///     n2 unreachable: connection refused
///     n3 -
///
/// `active` and `refused: REASON` are acks (as the ledger verified them); any other reason code is a relay's
/// report of a missing node (`MissingReason`); `-` says nothing about the node.
public struct AckSketch {
    public var acks: [Ack] = []
    public var reports: [Aggregate.Missing] = []

    public init(_ text: String, fleet: FleetName, version: Version, manifest: Key, at: Timestamp) {
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: " ")
            if line.isEmpty { continue }
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard let node = NodeID(parts[0]), parts.count == 2 else { preconditionFailure("ack sketch: expected 'NODE STATE' in '\(line)'") }
            let state = parts[1]
            if state == "-" { continue }
            if state == "active" {
                acks.append(Ack(fleet: fleet, version: version, node: node, manifest: manifest, status: .active, reason: "", at: at))
            } else if state.hasPrefix("refused:") {
                let reason = String(state.dropFirst("refused:".count)).trimmingCharacters(in: " ")
                acks.append(Ack(fleet: fleet, version: version, node: node, manifest: manifest, status: .refused, reason: reason, at: at))
            } else {
                reports.append(Aggregate.Missing(node: node, reason: MissingReason(state)))
            }
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String { String(self).trimmingCharacters(in: set) }
}
