public import BenCore

/// The planner's answer: the plan itself, and what the ledger, the cost model and the operator need to know
/// about how it was chosen.
public struct PlannedDeployment: Sendable, Hashable {
    /// The plan (DESIGN §1), ready to hash, sign and announce.
    public var plan: Plan
    /// The topology node index of each plan node (`plan.nodes[i]` is `topology.nodes[topologyIndex[i]]`).
    public var topologyIndex: [Int32]
    /// Targeted nodes the plan leaves out, and why.
    public var excluded: [Exclusion]
    /// The nominal fan-out m the shape was built for: relays on the fleet's nominal uplink may have m children.
    public var nominalFanOut: Int
    /// The rate the bundle streams at, R = k·B/m: each stripe flows at R/k.
    public var streamRate: Bandwidth
    /// Per plan node: the one stripe tree it may relay in, or -1 (a leaf everywhere).
    public var relayStripe: [Int8]
    /// Per plan node: the most children it may have in its relay stripe (its uplink at `streamRate`, within its
    /// fan-out).
    public var capacity: [Int32]
    /// The most children the ledger may have over all stripe trees.
    public var ledgerCapacity: Int
    /// Things the operator should know, such as a requested k the constraints could not carry.
    public var notes: [String]

    public var stripeCount: Int { plan.stripeCount }

    /// The ledger's children in stripe tree `s`, as plan node indexes.
    public func ledgerChildren(stripe s: Int) -> [Int] {
        plan.stripes[s].indices.filter { plan.stripes[s][$0] == Plan.ledger }
    }

    /// The subtrees the ledger hands its children (DESIGN §3 step 7): one per ledger child per stripe tree, in
    /// stripe order, each at depth 1. The ledger sends each child its own in a PLAN frame.
    ///
    /// - Parameter planKey: the key of the signed plan's canonical bytes, which every subtree names.
    public func ledgerSubtrees(planKey: Key) -> [Subtree] {
        var out: [Subtree] = []
        for s in 0..<plan.stripeCount {
            let children = plan.children(stripe: s)
            for i in children[plan.nodes.count] {
                out.append(plan.subtree(of: Int(i), stripe: s, planKey: planKey, children: children, depth: 1))
            }
        }
        return out
    }

    /// The order in which a relay should forward each chunk to its children in stripe tree `s`: largest
    /// subtree first (ties by index), so the chunk reaches the deep part of the tree soonest. Index
    /// `plan.nodes.count` holds the ledger's children. The cost model assumes this order.
    public func forwardingOrder(stripe s: Int) -> [[Int32]] {
        StripeTree(parents: plan.stripes[s]).forwardingOrder()
    }
}

/// One stripe tree's shape: children, subtree sizes, depths and breadth-first order.
public struct StripeTree: Sendable {
    public let parents: [Int32]
    let lists: ChildLists
    /// Nodes in breadth-first order from the ledger.
    public let breadthFirst: [Int32]
    /// Depth of each node (the ledger's children are at 1).
    public let depth: [Int32]
    /// Number of nodes in each node's subtree, itself included.
    public let subtreeSize: [Int32]

    public init(parents: [Int32]) {
        self.parents = parents
        let lists = ChildLists(parents: parents)
        self.lists = lists
        let n = parents.count
        var order: [Int32] = Array(lists.ofLedger)
        order.reserveCapacity(n)
        var depth = [Int32](repeating: 0, count: n)
        for i in order { depth[Int(i)] = 1 }
        var head = 0
        while head < order.count {
            let x = Int(order[head])
            head += 1
            for c in lists.of(x) {
                depth[Int(c)] = depth[x] + 1
                order.append(c)
            }
        }
        var size = [Int32](repeating: 1, count: n)
        for x in order.reversed() where parents[Int(x)] >= 0 { size[Int(parents[Int(x)])] += size[Int(x)] }
        breadthFirst = order
        self.depth = depth
        subtreeSize = size
    }

    public var count: Int { parents.count }

    /// Children of node i, in index order; `children(of: count)` are the ledger's.
    public func children(of i: Int) -> ArraySlice<Int32> { lists.of(i) }

    /// Children of each node (and, last, of the ledger), largest subtree first.
    public func forwardingOrder() -> [[Int32]] {
        (0...count).map { forwardingOrder(of: $0) }
    }

    /// The deepest node's depth.
    public var height: Int { Int(depth.max() ?? 0) }
}
