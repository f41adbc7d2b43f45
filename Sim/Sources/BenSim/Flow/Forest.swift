/// What the flow engine moves chunks along: k trees over one index space, fleet nodes first
/// (`0..<fleetCount`), then the ledger, then a hub when the strategy has one. Chunk j travels in tree j mod k.
struct Forest: Sendable {
    var k: Int
    var fleetCount: Int
    /// `parents[s][v]`: v's parent in tree s, or −1 for a source (the ledger holds every chunk from the start).
    var parents: [[Int32]]
    var hasHub: Bool

    var ledger: Int { fleetCount }
    var hub: Int { fleetCount + 1 }
    var nodeCount: Int { fleetCount + (hasHub ? 2 : 1) }
    /// Whether acks go up tree 0 as aggregates (the tree strategies) or each node reports to the ledger itself.
    var aggregatesAcks: Bool

    /// The planner's stripe trees, as they are.
    static func benTree(_ fleet: SimFleet) -> Forest {
        let n = fleet.nodeCount
        let parents = fleet.planned.plan.stripes.map { stripe in
            stripe.map { $0 == -1 ? Int32(n) : $0 } + [-1]
        }
        return Forest(k: parents.count, fleetCount: n, parents: parents, hasHub: false, aggregatesAcks: true)
    }

    /// Every node's parent is the ledger.
    static func star(nodes n: Int) -> Forest {
        Forest(k: 1, fleetCount: n, parents: [[Int32](repeating: Int32(n), count: n) + [-1]], hasHub: false, aggregatesAcks: false)
    }

    /// The ledger sends once to the hub; the hub sends to every node.
    static func broker(nodes n: Int) -> Forest {
        Forest(k: 1, fleetCount: n, parents: [[Int32](repeating: Int32(n + 1), count: n) + [-1, Int32(n)]], hasHub: true, aggregatesAcks: false)
    }

    /// A complete binary tree rooted at the ledger (which has two children) over `order`.
    static func binaryTree(nodes n: Int, order: [Int32]) -> Forest {
        var parents = [Int32](repeating: Int32(n), count: n + 1)
        parents[n] = -1
        for (position, node) in order.enumerated() where position >= 2 {
            parents[Int(node)] = order[(position - 2) / 2]
        }
        return Forest(k: 1, fleetCount: n, parents: [parents], hasHub: false, aggregatesAcks: true)
    }

    /// The ledger → order[0] → order[1] → …
    static func chain(nodes n: Int, order: [Int32]) -> Forest {
        var parents = [Int32](repeating: Int32(n), count: n + 1)
        parents[n] = -1
        for position in order.indices.dropFirst() { parents[Int(order[position])] = order[position - 1] }
        return Forest(k: 1, fleetCount: n, parents: [parents], hasHub: false, aggregatesAcks: true)
    }
}

/// SplitMix64: the simulator's only source of randomness, seeded from the scenario.
struct SimRandom: Sendable {
    private var state: UInt64

    init(seed: UInt64, stream: UInt64) {
        state = seed &* 0x9E37_79B9_7F4A_7C15 ^ stream &* 0xD1B5_4A32_D192_ED03
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound, without modulo bias.
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        while true {
            let x = next()
            if x < limit { return Int(x % b) }
        }
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    mutating func shuffle(_ a: inout [Int32]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) }
    }

    /// `count` distinct values of `pool`, in a seeded order.
    mutating func sample(_ pool: [Int32], _ count: Int) -> [Int32] {
        var copy = pool
        let c = min(count, copy.count)
        for i in 0..<c { copy.swapAt(i, i + below(copy.count - i)) }
        return Array(copy.prefix(c))
    }
}
