public import BenCore

/// Prices a plan under the bandwidth model of DESIGN §8: each node's upload is capped at its uplink, and a peer
/// link across a tier gets at most that tier's bandwidth.
///
/// The transfer model is pipelined cut-through at chunk granularity: a relay forwards chunk i once it has
/// verified it, to its children in forwarding order (largest subtree first) at the full speed of its uplink,
/// while it receives chunk i+1; a child behind a link slower than the uplink takes as long as its link needs
/// (the relay serves the next child meanwhile). The ledger does the same over all stripe trees, chunk i going to stripe i mod k. So a
/// node's first chunk arrives after the per-hop send times and latencies along its path, and the next ones
/// every Δ, the slowest round (a relay sending one chunk to all its children) on the path; its last chunk
/// of stripe s arrives (C_s − 1)·Δ later. A node completes when it holds every stripe.
///
/// Pure: the simulator (later) checks these predictions against simulated links, and `make bench` prints
/// them for the star, the plain tree and the striped plan side by side.
public struct CostModel: Sendable {
    public let topology: Topology

    public init(topology: Topology) {
        self.topology = topology
    }

    /// T_opt = S/B + log2(N)·c/B: the best any scheme can do (binomial pipeline), with B the fleet's nominal
    /// uplink (`defaults.uplink`).
    public func optimalTime(nodes: Int, bundleSize: Int64) -> Double {
        let b = topology.defaults.uplink.bytesPerSecond
        let log2n = nodes > 1 ? log2(Double(nodes)) : 0
        return Double(bundleSize) / b + log2n * Double(topology.chunkSize) / b
    }

    /// The figures for a plan made by the planner.
    public func evaluate(_ planned: PlannedDeployment, bundleSize: Int64, scheme: String) -> SchemeCost {
        evaluate(planned.plan, topologyIndex: planned.topologyIndex, bundleSize: bundleSize, scheme: scheme)
    }

    /// The figures for the star over the same nodes: every node pulls the whole bundle from the ledger.
    public func star(over topologyIndex: [Int32], bundleSize: Int64, fleet: FleetName, version: Version, topologyKey: Key)
        -> SchemeCost
    {
        let nodes = topologyIndex.map { PlanNode(id: topology.nodes[Int($0)].id, address: topology.nodes[Int($0)].address) }
        let plan = Plan(
            fleet: fleet, version: version, topology: topologyKey, nodes: nodes,
            stripes: [[Int32](repeating: Plan.ledger, count: nodes.count)],
            backups: [[Int32]](repeating: [], count: nodes.count))
        return evaluate(plan, topologyIndex: topologyIndex, bundleSize: bundleSize, scheme: "star")
    }

    /// The report comparing a striped plan with a plain tree and a star over the same nodes.
    public func report(striped: PlannedDeployment, plainTree: PlannedDeployment, bundleSize: Int64) -> CostReport {
        let plan = striped.plan
        return CostReport(
            bundleSize: bundleSize, chunkSize: topology.chunkSize, nodes: plan.nodes.count,
            uplink: topology.defaults.uplink, optimal: optimalTime(nodes: plan.nodes.count, bundleSize: bundleSize),
            striped: evaluate(striped, bundleSize: bundleSize, scheme: "striped"),
            plainTree: evaluate(plainTree, bundleSize: bundleSize, scheme: "plain tree"),
            star: star(over: striped.topologyIndex, bundleSize: bundleSize, fleet: plan.fleet, version: plan.version, topologyKey: plan.topology))
    }

    /// The figures for any plan over this topology; `topologyIndex[i]` is plan node i's topology index.
    ///
    /// In stages: the chunks and bytes of each stripe, the ledger's round, then each stripe tree from the ledger
    /// down (when each node's first chunk arrives and how often the next ones follow), and last the summary.
    public func evaluate(_ plan: Plan, topologyIndex: [Int32], bundleSize: Int64, scheme: String) -> SchemeCost {
        var run = CostRun(model: self, plan: plan, topologyIndex: topologyIndex, bundleSize: bundleSize)
        let ledgerRound = run.ledgerRound()
        for s in 0..<run.k { run.propagate(stripe: s, ledgerRound: ledgerRound) }
        return run.summary(scheme: scheme)
    }
}

/// One `CostModel.evaluate`: the plan's inputs and what the stages add up.
struct CostRun {
    let topology: Topology
    let model: CostModel
    let plan: Plan
    let topologyIndex: [Int32]
    let bundleSize: Int64
    let n: Int
    let k: Int
    let c: Double
    let stripeChunks: [Int]
    let stripeBytes: [Int64]
    let uplink: [Double]
    let ledgerUplink: Double
    let rackOf: [Int32]
    let trees: [StripeTree]

    var tierBytes = PerTier<Int64>(repeating: 0)
    var egress: [Int64]
    var ledgerEgress: Int64 = 0
    var ledgerMessages = 0
    var depth = 0
    var maxChildren = 0
    var rackIngress: [Int64]
    var completion: [Double]
    /// When each node's first chunk of the stripe being propagated arrives, and the interval between chunks.
    var first: [Double]
    var interval: [Double]
    /// When the ledger's round hands each of its children its chunk.
    var ledgerOffset: [Double]

    init(model: CostModel, plan: Plan, topologyIndex: [Int32], bundleSize: Int64) {
        let topology = model.topology
        self.topology = topology
        self.model = model
        self.plan = plan
        self.topologyIndex = topologyIndex
        self.bundleSize = bundleSize
        n = plan.nodes.count
        k = plan.stripeCount
        c = Double(topology.chunkSize)
        (stripeChunks, stripeBytes) = Self.stripeSizes(k: k, bundleSize: bundleSize, chunkSize: topology.chunkSize)
        uplink = topologyIndex.map { topology.uplink(of: Int($0)).bytesPerSecond }
        ledgerUplink = topology.ledgerUplink.bytesPerSecond
        rackOf = topologyIndex.map { topology.nodes[Int($0)].rack }
        trees = plan.stripes.map { StripeTree(parents: $0) }
        egress = [Int64](repeating: 0, count: n)
        rackIngress = [Int64](repeating: 0, count: topology.racks.count)
        completion = [Double](repeating: 0, count: n)
        first = [Double](repeating: 0, count: n)
        interval = [Double](repeating: 0, count: n)
        ledgerOffset = [Double](repeating: 0, count: n)
    }

    /// Chunks and bytes per stripe (chunk i travels on stripe i mod k).
    static func stripeSizes(k: Int, bundleSize: Int64, chunkSize: Int64) -> (chunks: [Int], bytes: [Int64]) {
        let chunks = Int((bundleSize + chunkSize - 1) / chunkSize)
        let lastChunk = bundleSize - Int64(max(0, chunks - 1)) * chunkSize
        var stripeChunks = [Int](repeating: chunks / k, count: k)
        var stripeBytes = [Int64](repeating: 0, count: k)
        for s in 0..<k {
            if s < chunks % k { stripeChunks[s] += 1 }
            stripeBytes[s] = Int64(stripeChunks[s]) * chunkSize
        }
        if chunks > 0 { stripeBytes[(chunks - 1) % k] -= chunkSize - lastChunk }
        return (stripeChunks, stripeBytes)
    }

    /// Link between two plan nodes (p = -1 is the ledger): its tier, the time one chunk takes on it alone
    /// (c over the slower of the sender's uplink and the tier's link), and its latency in seconds.
    func link(_ p: Int, _ v: Int) -> (tier: Tier, chunkTime: Double, latency: Double) {
        let tv = Int(topologyIndex[v])
        let tier = p < 0 ? topology.tierFromLedger(to: tv) : topology.tier(from: Int(topologyIndex[p]), to: tv)
        let l = topology.link(tier, inRack: Int(rackOf[v]))
        let up = p < 0 ? ledgerUplink : uplink[p]
        return (tier, c / min(up, l.bandwidth.bytesPerSecond), l.latency.seconds)
    }

    /// The ledger's round: one chunk to each of its children, stripe by stripe. Its uplink carries them one
    /// after another; a child behind a slower link cannot get its chunk sooner than that link allows.
    mutating func ledgerRound() -> Double {
        var ledgerSent = 0.0
        var ledgerSlowest = 0.0
        for s in 0..<k where stripeChunks[s] > 0 {
            for v in trees[s].forwardingOrder(of: n) {
                let l = link(-1, Int(v))
                ledgerSent += c / ledgerUplink
                ledgerSlowest = max(ledgerSlowest, l.chunkTime)
                ledgerOffset[Int(v)] = max(ledgerSent, l.chunkTime)
            }
        }
        return max(ledgerSent, ledgerSlowest)
    }

    /// One stripe tree from the ledger down: bytes per tier and rack, egress, and when each node completes the stripe.
    mutating func propagate(stripe s: Int, ledgerRound: Double) {
        let tree = trees[s]
        depth = max(depth, tree.height)
        let ledgerChildren = tree.children(of: n).count
        ledgerEgress += Int64(ledgerChildren) * stripeBytes[s]
        if s == 0 { ledgerMessages = ledgerChildren }
        for v in tree.children(of: n) {
            let l = link(-1, Int(v))
            tierBytes[l.tier] += stripeBytes[s]
            rackIngress[Int(rackOf[Int(v)])] += stripeBytes[s]
            first[Int(v)] = ledgerOffset[Int(v)] + l.latency
            interval[Int(v)] = ledgerRound
        }
        for x in tree.breadthFirst { relayRound(from: Int(x), in: tree, stripe: s) }
        if stripeChunks[s] > 0 {
            let more = Double(stripeChunks[s] - 1)
            for v in 0..<n { completion[v] = max(completion[v], first[v] + more * interval[v]) }
        }
    }

    /// A relay's round in one stripe tree: one chunk to each child, in forwarding order.
    mutating func relayRound(from p: Int, in tree: StripeTree, stripe s: Int) {
        let kids = tree.forwardingOrder(of: p)
        guard !kids.isEmpty else { return }
        maxChildren = max(maxChildren, kids.count)
        egress[p] += Int64(kids.count) * stripeBytes[s]
        var sent = 0.0
        var slowest = 0.0
        var offsets: [(Int, Double, Double)] = []
        offsets.reserveCapacity(kids.count)
        for v in kids {
            let l = link(p, Int(v))
            sent += c / uplink[p]
            slowest = max(slowest, l.chunkTime)
            offsets.append((Int(v), max(sent, l.chunkTime), l.latency))
            tierBytes[l.tier] += stripeBytes[s]
            if rackOf[Int(v)] != rackOf[p] { rackIngress[Int(rackOf[Int(v)])] += stripeBytes[s] }
        }
        let round = max(sent, slowest)
        for (v, offset, latency) in offsets {
            first[v] = first[p] + offset + latency
            interval[v] = max(interval[p], round)
        }
    }

    /// The figures: the largest egress, rack ingress, completion percentiles.
    func summary(scheme: String) -> SchemeCost {
        var largest: Int64 = 0
        var largestNode: NodeID?
        for v in 0..<n where egress[v] > largest {
            largest = egress[v]
            largestNode = plan.nodes[v].id
        }
        var racksWithNodes = Set<Int32>()
        for r in rackOf { racksWithNodes.insert(r) }
        let ingress = racksWithNodes.map { Double(rackIngress[Int($0)]) / Double(max(bundleSize, 1)) }
        let sorted = completion.sorted()
        func percentile(_ q: Double) -> Double {
            sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)]
        }
        return SchemeCost(
            scheme: scheme, stripes: k, nodes: n, bytesPerTier: tierBytes, ledgerEgress: ledgerEgress,
            largestNodeEgress: largest, largestNodeEgressNode: largestNode, bytesReceived: Int64(n) * bundleSize,
            ledgerMessages: ledgerMessages, depth: depth, maxChildren: maxChildren,
            completion: sorted.last ?? 0, medianCompletion: percentile(0.5), p99Completion: percentile(0.99),
            optimal: model.optimalTime(nodes: n, bundleSize: bundleSize),
            latencyFloor: (0..<n).map { link(-1, $0).latency }.max() ?? 0,
            rackIngressMean: ingress.isEmpty ? 0 : ingress.reduce(0, +) / Double(ingress.count),
            rackIngressMax: ingress.max() ?? 0)
    }
}

extension StripeTree {
    /// Children of node i (or of the ledger, i = count) in forwarding order: largest subtree first.
    func forwardingOrder(of i: Int) -> [Int32] {
        children(of: i).sorted { (subtreeSize[Int($0)], -$0) > (subtreeSize[Int($1)], -$1) }
    }
}

/// log2 without Foundation.
func log2(_ x: Double) -> Double {
    guard x > 0 else { return -.infinity }
    return naturalLog(x) / 0.693_147_180_559_945_3
}
