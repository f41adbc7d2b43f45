public import BenCore

/// One scheme's figures for one bundle (see `CostModel` for the model).
public struct SchemeCost: Sendable, Hashable {
    /// "striped", "plain tree" or "star".
    public var scheme: String
    public var stripes: Int
    public var nodes: Int
    /// Bytes that cross each tier, ledger links included.
    public var bytesPerTier: PerTier<Int64>
    /// Bytes the ledger uploads.
    public var ledgerEgress: Int64
    /// The most bytes any node uploads, and which node.
    public var largestNodeEgress: Int64
    public var largestNodeEgressNode: NodeID?
    /// Bytes all nodes receive: N × S in a tree, since no chunk reaches a node twice.
    public var bytesReceived: Int64
    /// Messages reaching the ledger: one aggregate from each of its children in the ack tree (stripe 0).
    public var ledgerMessages: Int
    /// The deepest node in any stripe tree (the ledger's children are at depth 1).
    public var depth: Int
    /// The most children any node has in one stripe tree.
    public var maxChildren: Int
    /// Predicted time until the last node holds the whole bundle, in seconds; and the median and 99th
    /// percentile over nodes.
    public var completion: Double
    public var medianCompletion: Double
    public var p99Completion: Double
    /// T_opt for the same N, S, c and B.
    public var optimal: Double
    /// The latency of the ledger's link to the farthest node: no scheme delivers sooner than this after the
    /// first byte, and T_opt leaves it out.
    public var latencyFloor: Double
    /// Bytes entering a rack from outside it, as a multiple of S: mean and worst over racks. 1 means the rack
    /// receives each byte once.
    public var rackIngressMean: Double
    public var rackIngressMax: Double

    /// Predicted completion ÷ T_opt.
    public var ratioToOptimal: Double { optimal > 0 ? completion / optimal : 0 }

    /// Predicted completion ÷ (T_opt + the farthest node's link latency): how far from the best possible the
    /// plan is once the speed of light is counted.
    public var ratioToBound: Double { optimal + latencyFloor > 0 ? completion / (optimal + latencyFloor) : 0 }
}

/// A plan's figures beside a star's and a plain tree's, for the same nodes and bundle.
public struct CostReport: Sendable, Hashable {
    public var bundleSize: Int64
    public var chunkSize: Int64
    public var nodes: Int
    /// B in T_opt: the fleet's nominal uplink.
    public var uplink: Bandwidth
    public var optimal: Double
    public var striped: SchemeCost
    public var plainTree: SchemeCost
    public var star: SchemeCost

    public var schemes: [SchemeCost] { [striped, plainTree, star] }

    /// The report as a table for people, one column per scheme.
    public var table: String {
        var rows: [(String, [String])] = []
        func row(_ name: String, _ value: (SchemeCost) -> String) { rows.append((name, schemes.map(value))) }
        row("stripe trees (k)") { "\($0.stripes)" }
        row("ledger egress") { ByteSize.format($0.ledgerEgress) }
        row("largest node egress") { $0.largestNodeEgress == 0 ? "0" : ByteSize.format($0.largestNodeEgress) }
        for tier in Tier.allCases.reversed() {
            row("bytes \(tier.name)") { ByteSize.format($0.bytesPerTier[tier]) }
        }
        row("rack ingress (mean/max ×S)") { "\(formatDecimal($0.rackIngressMean))/\(formatDecimal($0.rackIngressMax))" }
        row("messages to ledger") { "\($0.ledgerMessages)" }
        row("depth") { "\($0.depth)" }
        row("most children") { "\($0.maxChildren)" }
        row("completion p50") { formatSeconds($0.medianCompletion) }
        row("completion (last node)") { formatSeconds($0.completion) }
        row("completion ÷ T_opt") { formatDecimal($0.ratioToOptimal) }
        row("÷ (T_opt + link latency)") { formatDecimal($0.ratioToBound) }
        let nameWidth = rows.map(\.0.count).max() ?? 0
        let headers = schemes.map { $0.scheme == "striped" ? "striped (k=\($0.stripes))" : $0.scheme }
        var widths = headers.map(\.count)
        for (_, values) in rows { for (i, v) in values.enumerated() { widths[i] = max(widths[i], v.count) } }
        func line(_ name: String, _ values: [String]) -> String {
            var s = name.padding(nameWidth)
            for (i, v) in values.enumerated() { s += "   " + v.leftPadding(widths[i]) }
            return s
        }
        var out = "cost of a \(ByteSize.format(bundleSize)) bundle to \(nodes) nodes (chunk \(ByteSize.format(chunkSize)), B = \(uplink)/node, T_opt = \(formatSeconds(optimal)))\n"
        out += line("", headers) + "\n"
        for (name, values) in rows { out += line(name, values) + "\n" }
        return out
    }

    public var json: JSONValue {
        .object([
            "bundle_size": .int(bundleSize),
            "chunk_size": .int(chunkSize),
            "nodes": .int(Int64(nodes)),
            "uplink_bps": .int(uplink.bitsPerSecond),
            "optimal_seconds": .double(optimal),
            "striped": striped.json,
            "plain_tree": plainTree.json,
            "star": star.json,
        ])
    }
}

extension SchemeCost {
    public var json: JSONValue {
        var tiers: [String: JSONValue] = [:]
        for tier in Tier.allCases { tiers[tier.name] = .int(bytesPerTier[tier]) }
        return .object([
            "scheme": .string(scheme),
            "stripes": .int(Int64(stripes)),
            "nodes": .int(Int64(nodes)),
            "bytes_per_tier": .object(tiers),
            "ledger_egress": .int(ledgerEgress),
            "largest_node_egress": .int(largestNodeEgress),
            "largest_node_egress_node": largestNodeEgressNode.map { .string($0.rawValue) } ?? .null,
            "bytes_received": .int(bytesReceived),
            "ledger_messages": .int(Int64(ledgerMessages)),
            "depth": .int(Int64(depth)),
            "max_children": .int(Int64(maxChildren)),
            "completion_seconds": .double(completion),
            "median_completion_seconds": .double(medianCompletion),
            "p99_completion_seconds": .double(p99Completion),
            "optimal_seconds": .double(optimal),
            "ratio_to_optimal": .double(ratioToOptimal),
            "latency_floor_seconds": .double(latencyFloor),
            "ratio_to_bound": .double(ratioToBound),
            "rack_ingress_mean": .double(rackIngressMean),
            "rack_ingress_max": .double(rackIngressMax),
        ])
    }
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
    func leftPadding(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
