/// What the ledger computes from a topology for one deployment (DESIGN §1): a forest of k stripe trees over
/// the target nodes, all rooted at the ledger. Chunk i travels along stripe tree i mod k.
///
/// Trees are parent arrays over one shared node list, which keeps a 100 000-node plan small and makes
/// "covers every node exactly once" true by construction; `validate()` checks there are no cycles.
public struct Plan: CanonicalDocument {
    /// The `format` every plan carries; a plan of any other format is refused.
    public static let format = "ben/plan/v1"
    /// The name errors give the document.
    public static let documentName = "plan"
    /// Larger input is refused unread (256 MiB: room for 100 000 nodes and many stripes).
    public static let maxBytes = 256 << 20
    /// The members a plan may have; any other is refused.
    public static let fields: Set<String> = ["format", "fleet", "version", "topology", "nodes", "stripes", "backups", "stripe_rate"]

    /// The parent index that means "the ledger".
    public static let ledger: Int32 = -1

    /// The fleet.
    public var fleet: FleetName
    /// The version the plan carries.
    public var version: Version
    /// Key of the topology the plan was computed from.
    public var topology: Key
    /// The target nodes. Index i in every stripe's parent array refers to `nodes[i]`.
    public var nodes: [PlanNode]
    /// `stripes[s][i]` is the index of node i's parent in stripe tree s, or `Plan.ledger`.
    public var stripes: [[Int32]]
    /// `backups[i]`: other nodes that can serve node i if its parents fail, best first (may be empty).
    public var backups: [[Int32]]
    /// Bytes per second each stripe is planned to flow at over every link of its tree (0: not known). Relays and
    /// children judge a link's progress against it: a stream this slow is moving, not stalled.
    public var stripeRate: Int64

    /// A plan as the planner makes it; check it with `validate()` before trusting a hand-built one.
    public init(
        fleet: FleetName, version: Version, topology: Key, nodes: [PlanNode], stripes: [[Int32]], backups: [[Int32]],
        stripeRate: Int64 = 0
    ) {
        self.stripeRate = stripeRate
        self.fleet = fleet
        self.version = version
        self.topology = topology
        self.nodes = nodes
        self.stripes = stripes
        self.backups = backups
    }

    /// k, the number of stripe trees.
    public var stripeCount: Int { stripes.count }

    /// The same nodes with every one fed straight from the ledger (one stripe, no relays): the star the trees
    /// are measured against (`deploy --star`).
    public func asStar() -> Plan {
        Plan(
            fleet: fleet, version: version, topology: topology, nodes: nodes,
            stripes: [[Int32](repeating: Self.ledger, count: nodes.count)], backups: backups)
    }

    /// The stripe tree that carries chunk number `chunk` (counted across the whole bundle).
    public func stripe(ofChunk chunk: Int) -> Int { chunk % stripes.count }

    /// Children lists of stripe tree `s`; index `nodes.count` holds the ledger's children.
    public func children(stripe s: Int) -> [[Int32]] {
        var children = [[Int32]](repeating: [], count: nodes.count + 1)
        for (i, p) in stripes[s].enumerated() {
            children[p == Self.ledger ? nodes.count : Int(p)].append(Int32(i))
        }
        return children
    }

    /// Depth of every node in stripe tree `s` (the ledger's children have depth 1); nil on a cycle.
    public func depths(stripe s: Int) -> [Int]? {
        let parents = stripes[s]
        var depth = [Int](repeating: 0, count: nodes.count)
        for start in parents.indices where depth[start] == 0 {
            var path: [Int] = []
            var i = start
            while i >= 0 && depth[i] == 0 {
                path.append(i)
                guard path.count <= nodes.count else { return nil }
                i = Int(parents[i])
            }
            var d = i < 0 ? 0 : depth[i]
            for j in path.reversed() {
                d += 1
                depth[j] = d
            }
        }
        return depth
    }

    /// Index of each node id.
    public func indexByNode() -> [NodeID: Int] {
        var map: [NodeID: Int] = [:]
        map.reserveCapacity(nodes.count)
        for (i, n) in nodes.enumerated() { map[n.id] = i }
        return map
    }

    /// Why a plan is not a forest of stripe trees over its nodes.
    public enum Problem: Sendable, Hashable, CustomStringConvertible {
        /// The plan has no stripe tree.
        case noStripes
        /// Stripe tree `stripe` does not have one parent per node.
        case wrongLength(stripe: Int)
        /// In stripe tree `stripe`, `node`'s parent is not a node of the plan, the ledger, or is the node itself.
        case parentOutOfRange(stripe: Int, node: NodeID)
        /// Stripe tree `stripe` has a cycle, so some nodes never reach the ledger.
        case cycle(stripe: Int)
        /// The node appears twice.
        case duplicateNode(NodeID)
        /// There is not one backup list per node.
        case backupsLength

        /// The problem in words, for the error that refuses the plan.
        public var description: String {
            switch self {
            case .noStripes: "a plan needs at least one stripe tree"
            case .wrongLength(let s): "stripe \(s) does not give every node a parent"
            case .parentOutOfRange(let s, let n): "stripe \(s): node \(n) has a parent outside the plan"
            case .cycle(let s): "stripe \(s) has a cycle; some nodes never reach the ledger"
            case .duplicateNode(let n): "node \(n) appears twice"
            case .backupsLength: "backups must have one list per node"
            }
        }
    }

    /// Checks the structure: every stripe is a tree over all nodes rooted at the ledger.
    public func validate() -> Problem? {
        guard !stripes.isEmpty else { return .noStripes }
        var seen = Set<NodeID>()
        for n in nodes where !seen.insert(n.id).inserted { return .duplicateNode(n.id) }
        guard backups.count == nodes.count else { return .backupsLength }
        for (s, parents) in stripes.enumerated() {
            guard parents.count == nodes.count else { return .wrongLength(stripe: s) }
            for (i, p) in parents.enumerated() where p < Self.ledger || Int(p) >= nodes.count || Int(p) == i {
                return .parentOutOfRange(stripe: s, node: nodes[i].id)
            }
            guard depths(stripe: s) != nil else { return .cycle(stripe: s) }
        }
        return nil
    }

    /// Reads a plan strictly: the known format, at most 1024 stripe trees, every index in range, and a structure
    /// that passes `validate()`.
    public init(reading r: FieldReader) throws(DocumentError) {
        guard try r.string("format") == Self.format else {
            throw r.error("format", .invalidValue, "expected \"\(Self.format)\"")
        }
        fleet = try r.fleet("fleet")
        version = try r.version("version")
        topology = try r.key("topology")
        stripeRate = r.has("stripe_rate") ? try r.int("stripe_rate", in: 1...JSONValue.maxSafeInteger) : 0
        nodes = try r.elements("nodes") { (value, path) throws(DocumentError) in
            try PlanNode(json: value, document: Self.documentName, path: path)
        }
        let count = nodes.count
        stripes = try r.elements("stripes", maxCount: 1024) { (value, path) throws(DocumentError) in
            try readIndexArray(value, document: Self.documentName, path: path, count: count)
        }
        backups = try r.elements("backups") { (value, path) throws(DocumentError) in
            try readIndexArray(value, document: Self.documentName, path: path, count: count)
        }
        if let problem = validate() {
            throw r.error("stripes", .invalidValue, problem.description)
        }
    }

    /// The plan's canonical form; its key is what an announcement names. `stripe_rate` appears only when known.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "format": .string(Self.format),
            "fleet": .string(fleet.rawValue),
            "version": .int(Int64(version.rawValue)),
            "topology": .string(topology.hex),
            "nodes": .array(nodes.map(\.json)),
            "stripes": .array(stripes.map { .array($0.map { .int(Int64($0)) }) }),
            "backups": .array(backups.map { .array($0.map { .int(Int64($0)) }) }),
        ]
        if stripeRate > 0 { object["stripe_rate"] = .int(stripeRate) }
        return .object(object)
    }
}

/// A node as a plan names it: its id and where its peer link listens.
public struct PlanNode: Sendable, Hashable {
    /// The node's id.
    public var id: NodeID
    /// Where its peer link listens.
    public var address: HostPort
    /// The node's signed assignment, in subtrees (never in the plan itself, whose key the announcement names):
    /// it tells the node who may feed it, and tells whoever connects to it which key to expect.
    public var assignment: SignedEnvelope?

    /// A plan node; `assignment` only in subtrees.
    public init(id: NodeID, address: HostPort, assignment: SignedEnvelope? = nil) {
        self.id = id
        self.address = address
        self.assignment = assignment
    }

    /// `{"id": …, "addr": "host:port"}`, with `assignment` when there is one.
    public var json: JSONValue {
        var object: [String: JSONValue] = ["id": .string(id.rawValue), "addr": .string(address.description)]
        if let assignment { object["assignment"] = assignment.json }
        return .object(object)
    }

    /// Reads a plan node strictly; errors name `document` and the field under `path`.
    public init(json: JSONValue, document: String, path: String) throws(DocumentError) {
        let r = try FieldReader(json, document: document, path: path, allowed: ["id", "addr", "assignment"])
        id = try r.node("id")
        guard let address = HostPort(try r.string("addr")) else {
            throw r.error("addr", .invalidValue, "expected host:port")
        }
        self.address = address
        assignment = r.has("assignment") ? try r.envelope("assignment") : nil
    }
}

/// Reads an array of node indexes (each -1 for the ledger or 0..<count).
func readIndexArray(_ value: JSONValue, document: String, path: String, count: Int) throws(DocumentError) -> [Int32] {
    guard case .array(let elements) = value else {
        throw DocumentError(document: document, field: path, code: .wrongType, detail: "expected array of node indexes")
    }
    var out: [Int32] = []
    out.reserveCapacity(elements.count)
    for (i, element) in elements.enumerated() {
        guard case .int(let v) = element, v >= -1, v < Int64(count) else {
            throw DocumentError(
                document: document, field: "\(path)[\(i)]", code: .invalidValue,
                detail: "expected a node index in -1..<\(count)")
        }
        out.append(Int32(v))
    }
    return out
}
