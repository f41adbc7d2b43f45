/// The ledger's signed word, for one node in one deployment (`ben/plan/v1`, DESIGN §9): who the node is (the
/// key its topology entry lists) and who may feed it (its parent in each stripe tree, and its backups).
///
/// It travels with the node in the subtree its parent sends, and in link handshakes, where it binds the node's
/// id to its key. A node accepts a parent only if its own assignment names that parent, directly or through the
/// assignments of the nodes between them (an adopter, `Subtree.via`).
public struct Assignment: CanonicalDocument {
    /// The `format` every assignment carries; any other is refused.
    public static let format = "ben/assignment/v1"
    /// The name errors give the document.
    public static let documentName = "assignment"
    /// Larger input is refused unread (16 KiB).
    public static let maxBytes = 16 << 10
    /// The members an assignment may have; any other is refused.
    public static let fields: Set<String> = ["format", "fleet", "version", "epoch", "plan", "node", "key", "parents", "backups"]

    /// The fleet.
    public var fleet: FleetName
    /// The version the plan carries.
    public var version: Version
    /// The epoch of the ledger that made the plan.
    public var epoch: UInt64
    /// Key of the whole plan.
    public var plan: Key
    /// The node this assignment is for.
    public var node: NodeID
    /// The node's Ed25519 public key (32 bytes).
    public var key: [UInt8]
    /// The node's parent in each stripe tree (`ledger` for the ledger), stripe 0 first.
    public var parents: [NodeID]
    /// Nodes that may serve it chunks when its parents fail, best first.
    public var backups: [NodeID]

    /// An assignment as `Plan.assignment(of:key:planKey:epoch:)` makes it, for the ledger to sign.
    public init(
        fleet: FleetName, version: Version, epoch: UInt64, plan: Key, node: NodeID, key: [UInt8], parents: [NodeID], backups: [NodeID]
    ) {
        self.fleet = fleet
        self.version = version
        self.epoch = epoch
        self.plan = plan
        self.node = node
        self.key = key
        self.parents = parents
        self.backups = backups
    }

    /// Whether `peer` may feed this node: one of its parents or backups.
    public func names(_ peer: NodeID) -> Bool { parents.contains(peer) || backups.contains(peer) }

    /// Reads an assignment strictly: the known format, a 32-byte key as 64 hex digits, 1 to 1024 parents (one per
    /// stripe) and at most 64 backups.
    public init(reading r: FieldReader) throws(DocumentError) {
        let format = try r.string("format")
        guard format == Self.format else { throw r.error("format", .invalidValue, "expected \(Self.format), found \(format)") }
        fleet = try r.fleet("fleet")
        version = try r.version("version")
        epoch = UInt64(try r.int("epoch"))
        plan = try r.key("plan")
        node = try r.node("node")
        let hex = try r.string("key")
        guard hex.utf8.count == 64, let key = Hex.decode(hex) else {
            throw r.error("key", .invalidValue, "expected an Ed25519 public key as 64 hex digits")
        }
        self.key = key
        parents = try r.elements("parents", maxCount: 1024) { (value, path) throws(DocumentError) in
            try Self.nodeID(value, path: path)
        }
        guard !parents.isEmpty else { throw r.error("parents", .invalidValue, "a planned node has a parent in every stripe") }
        backups = try r.elements("backups", maxCount: 64) { (value, path) throws(DocumentError) in
            try Self.nodeID(value, path: path)
        }
    }

    private static func nodeID(_ value: JSONValue, path: String) throws(DocumentError) -> NodeID {
        guard let text = value.stringValue, let id = NodeID(text) else {
            throw DocumentError(document: documentName, field: path, code: .invalidValue, detail: "expected a node id")
        }
        return id
    }

    /// The assignment's canonical form, the bytes the ledger signs (`ben/plan/v1`).
    public var json: JSONValue {
        .object([
            "format": .string(Self.format),
            "fleet": .string(fleet.rawValue),
            "version": .int(Int64(version.rawValue)),
            "epoch": .int(Int64(epoch)),
            "plan": .string(plan.hex),
            "node": .string(node.rawValue),
            "key": .string(Hex.encode(key)),
            "parents": .array(parents.map { .string($0.rawValue) }),
            "backups": .array(backups.map { .string($0.rawValue) }),
        ])
    }
}

extension Plan {
    /// The assignment of node `i` (unsigned: the ledger's shell signs it), given each node's key.
    public func assignment(of i: Int, key: [UInt8], planKey: Key, epoch: UInt64) -> Assignment {
        Assignment(
            fleet: fleet, version: version, epoch: epoch, plan: planKey, node: nodes[i].id, key: key,
            parents: stripes.map { s in s[i] == Plan.ledger ? NodeID.ledger : nodes[Int(s[i])].id },
            backups: backups[i].map { nodes[Int($0)].id })
    }
}
