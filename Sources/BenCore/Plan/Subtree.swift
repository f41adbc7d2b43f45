/// The part of one stripe tree a parent hands to a child in its PLAN frame: the child (index 0) and every node
/// below it, in breadth-first order, with each node's backups.
///
/// A relay holds this so it can forward each of its children their own part, and adopt a grandchild when a
/// child is unreachable (DESIGN §3 step 9). It is not signed: a relay that lies about it can only fail to
/// deliver, which the ledger sees; every chunk and ack is still checked against signatures.
public struct Subtree: CanonicalDocument {
    /// The name errors give the document.
    public static let documentName = "subtree"
    /// Larger input is refused unread (64 MiB).
    public static let maxBytes = 64 << 20
    /// The members a subtree may have; any other is refused.
    public static let fields: Set<String> = [
        "fleet", "version", "plan", "stripe", "stripes", "depth", "nodes", "parents", "backups", "stripe_rate", "via",
    ]

    /// The fleet.
    public var fleet: FleetName
    /// The version the plan carries.
    public var version: Version
    /// Key of the whole plan this was cut from.
    public var plan: Key
    /// Which stripe tree this is part of (0 ..< `stripeCount`).
    public var stripe: Int
    /// How many stripe trees the plan has (chunk i travels in stripe i mod `stripeCount`).
    public var stripeCount: Int
    /// Depth of `nodes[0]` in its stripe tree; the ledger's children are at depth 1.
    public var depth: Int
    /// `nodes[0]` is the node this subtree is for.
    public var nodes: [PlanNode]
    /// `parents[0] == -1`; for i > 0, `parents[i] < i` (breadth-first order, so this is a tree by construction).
    public var parents: [Int32]
    /// Backups of each node, as addresses, best first.
    public var backups: [[PlanNode]]
    /// The plan's `stripeRate`: bytes per second this stripe is planned to flow at on each link (0: not known).
    public var stripeRate: Int64
    /// When the sender is not the parent the root's assignment names (it adopted the root after that parent
    /// failed): the signed assignments of the nodes between them, the root's planned parent first. Each names the
    /// next as its parent, and the last names the sender.
    public var via: [SignedEnvelope]

    /// A subtree as a parent cuts it from its own (or the ledger from the plan).
    public init(
        fleet: FleetName, version: Version, plan: Key, stripe: Int, stripeCount: Int, depth: Int, nodes: [PlanNode],
        parents: [Int32], backups: [[PlanNode]], stripeRate: Int64 = 0, via: [SignedEnvelope] = []
    ) {
        self.via = via
        self.stripeRate = stripeRate
        self.fleet = fleet
        self.version = version
        self.plan = plan
        self.stripe = stripe
        self.stripeCount = stripeCount
        self.depth = depth
        self.nodes = nodes
        self.parents = parents
        self.backups = backups
    }

    /// The node this subtree is for (`nodes[0]`).
    public var root: PlanNode { nodes[0] }

    /// Indexes of the children of `nodes[i]`.
    public func children(of i: Int) -> [Int] {
        var out: [Int] = []
        for j in (i + 1)..<max(i + 1, parents.count) where parents[j] == Int32(i) { out.append(j) }
        return out
    }

    /// The part of this subtree rooted at `nodes[i]`, re-indexed, ready to send to that node.
    public func subtree(at i: Int) -> Subtree {
        var map: [Int: Int32] = [i: 0]
        var nodes = [self.nodes[i]]
        var parents: [Int32] = [-1]
        var backups = [self.backups[i]]
        for j in (i + 1)..<self.nodes.count {
            guard let p = map[Int(self.parents[j])] else { continue }
            map[j] = Int32(nodes.count)
            nodes.append(self.nodes[j])
            parents.append(p)
            backups.append(self.backups[j])
        }
        return Subtree(
            fleet: fleet, version: version, plan: plan, stripe: stripe, stripeCount: stripeCount, depth: depth + level(of: i),
            nodes: nodes, parents: parents, backups: backups, stripeRate: stripeRate, via: via(to: i))
    }

    /// The part rooted at `nodes[i]` as the sender of this subtree hands it on itself, having adopted `nodes[i]`
    /// after `nodes[0]` failed: its chain runs from `nodes[i]`'s planned parent up through `nodes[0]` and on along
    /// this subtree's own chain to the sender, so `nodes[i]` can check every step (`PlanAuthority.mayFeed`).
    public func adopted(at i: Int) -> Subtree {
        var part = subtree(at: i)
        if let own = root.assignment { part.via.append(own) }
        part.via += via
        return part
    }

    /// The assignments of the nodes strictly between `nodes[0]` and `nodes[i]`, nearest to `nodes[i]` first: what
    /// `nodes[0]` shows `nodes[i]` when it feeds it directly (empty for its own children).
    public func via(to i: Int) -> [SignedEnvelope] {
        var chain: [SignedEnvelope] = []
        var j = Int(parents[i])
        while j > 0 {
            if let a = nodes[j].assignment { chain.append(a) }
            j = Int(parents[j])
        }
        return chain
    }

    /// How many edges below `nodes[0]` node i sits.
    public func level(of i: Int) -> Int {
        var level = 0
        var j = i
        while j > 0 {
            j = Int(parents[j])
            level += 1
        }
        return level
    }

    /// Height of the subtree: the number of levels below `nodes[0]`.
    public var height: Int {
        var levels = [Int](repeating: 0, count: nodes.count)
        var height = 0
        for j in 1..<max(1, nodes.count) {
            levels[j] = levels[Int(parents[j])] + 1
            height = max(height, levels[j])
        }
        return height
    }

    /// Reads a subtree strictly: a stripe within 1 to 1024 trees, at least the root, parents in breadth-first order
    /// (so it is a tree) and one backup list per node.
    public init(reading r: FieldReader) throws(DocumentError) {
        fleet = try r.fleet("fleet")
        version = try r.version("version")
        plan = try r.key("plan")
        stripeRate = r.has("stripe_rate") ? try r.int("stripe_rate", in: 1...JSONValue.maxSafeInteger) : 0
        stripeCount = Int(try r.int("stripes", in: 1...1024))
        stripe = Int(try r.int("stripe", in: 0...Int64(stripeCount - 1)))
        depth = Int(try r.int("depth", in: 1...1_000_000))
        nodes = try r.elements("nodes") { (value, path) throws(DocumentError) in
            try PlanNode(json: value, document: Self.documentName, path: path)
        }
        guard !nodes.isEmpty else { throw r.error("nodes", .invalidValue, "a subtree holds at least its root") }
        parents = try readIndexArray(try r.value("parents"), document: Self.documentName, path: r.fieldPath("parents"), count: nodes.count)
        guard parents.count == nodes.count, parents[0] == -1 else {
            throw r.error("parents", .invalidValue, "expected one parent per node, with -1 for the root")
        }
        for j in 1..<nodes.count where !(0..<Int32(j)).contains(parents[j]) {
            throw r.error("parents", .invalidValue, "node \(j)'s parent must come before it (breadth-first order)")
        }
        backups = try r.elements("backups") { (value, path) throws(DocumentError) -> [PlanNode] in
            guard case .array(let list) = value else {
                throw DocumentError(document: Self.documentName, field: path, code: .wrongType, detail: "expected array")
            }
            var out: [PlanNode] = []
            for (k, element) in list.enumerated() {
                out.append(try PlanNode(json: element, document: Self.documentName, path: "\(path)[\(k)]"))
            }
            return out
        }
        guard backups.count == nodes.count else {
            throw r.error("backups", .invalidValue, "expected one list of backups per node")
        }
        via = r.has("via") ? try r.envelopes("via", maxCount: 64) : []
    }

    /// The subtree as a PLAN frame carries it; `stripe_rate` appears only when known.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "fleet": .string(fleet.rawValue),
            "version": .int(Int64(version.rawValue)),
            "plan": .string(plan.hex),
            "stripe": .int(Int64(stripe)),
            "stripes": .int(Int64(stripeCount)),
            "depth": .int(Int64(depth)),
            "nodes": .array(nodes.map(\.json)),
            "parents": .array(parents.map { .int(Int64($0)) }),
            "backups": .array(backups.map { .array($0.map(\.json)) }),
        ]
        if stripeRate > 0 { object["stripe_rate"] = .int(stripeRate) }
        if !via.isEmpty { object["via"] = .array(via.map(\.json)) }
        return .object(object)
    }
}

extension Plan {
    /// The subtree of stripe tree `s` rooted at node index `i`, as the node's parent sends it.
    /// - Parameters:
    ///   - i: The index in `nodes` of the node the subtree is for; it becomes the subtree's root.
    ///   - s: The stripe tree to cut from.
    ///   - planKey: The key of this plan's canonical bytes, which the subtree names so a child can match it.
    ///   - children: `children(stripe: s)`, computed once by the caller when cutting many subtrees.
    ///   - depth: node i's depth in stripe s.
    ///   - assignments: each node's signed assignment, by node index (empty: none travel).
    public func subtree(
        of i: Int, stripe s: Int, planKey: Key, children: [[Int32]], depth: Int, assignments: [SignedEnvelope] = []
    ) -> Subtree {
        var order = [i]
        var parents: [Int32] = [-1]
        var head = 0
        while head < order.count {
            let n = order[head]
            for c in children[n] {
                order.append(Int(c))
                parents.append(Int32(head))
            }
            head += 1
        }
        return Subtree(
            fleet: fleet, version: version, plan: planKey, stripe: s, stripeCount: stripes.count, depth: depth,
            nodes: order.map { n in
                assignments.isEmpty ? nodes[n] : PlanNode(id: nodes[n].id, address: nodes[n].address, assignment: assignments[n])
            },
            parents: parents,
            backups: order.map { n in backups[n].map { nodes[Int($0)] } }, stripeRate: stripeRate)
    }
}
