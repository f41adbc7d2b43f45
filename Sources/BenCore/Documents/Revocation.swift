/// The ledger's signed statement "distrust node key K of node X" (context `ben/revoke/v1`): issued by an operator
/// (`benctl revoke`), audit-logged, and carried by NATS (`ben.<fleet>.revoke`) and by gossip.
///
/// A node takes it only if the signature is by a trusted ledger key, `fleet` is its own and `epoch` is not older
/// than the highest it accepted; it keeps it on disk and from then on refuses peer-link handshakes, gossip
/// datagrams and carried acks signed with K. The ledger refuses acks signed with K. A revocation is never undone:
/// the node gets a new key (and the topology lists it).
public struct Revocation: CanonicalDocument {
    /// The name errors give the document.
    public static let documentName = "revocation"
    /// Larger input is refused unread (4 KiB).
    public static let maxBytes = 4 << 10
    /// The longest reason a revocation carries, in bytes of UTF-8.
    public static let maxReasonBytes = 512
    /// The members a revocation may have; any other is refused.
    public static let fields: Set<String> = ["fleet", "epoch", "node", "keyid", "reason", "issued_at"]

    /// The fleet; a node ignores another fleet's revocation.
    public var fleet: FleetName
    /// The lease epoch of the ledger that signed it (fencing, as on announcements).
    public var epoch: UInt64
    /// The node whose key is revoked.
    public var node: NodeID
    /// The revoked key's id: the first 16 lowercase hex digits of BLAKE2b-256 of its raw public key.
    public var keyID: String
    /// Why, in the operator's words.
    public var reason: String
    /// When the ledger signed it.
    public var issuedAt: Timestamp

    /// A revocation as the ledger signs it; a longer reason is cut to `maxReasonBytes`.
    public init(fleet: FleetName, epoch: UInt64 = 0, node: NodeID, keyID: String, reason: String, issuedAt: Timestamp) {
        self.fleet = fleet
        self.epoch = epoch
        self.node = node
        self.keyID = keyID
        self.reason = String(reason.utf8.prefix(Self.maxReasonBytes)) ?? ""
        self.issuedAt = issuedAt
    }

    /// Reads a revocation strictly: every member present, a well-formed key id, a reason within `maxReasonBytes`.
    public init(reading r: FieldReader) throws(DocumentError) {
        fleet = try r.fleet("fleet")
        epoch = UInt64(try r.int("epoch"))
        node = try r.node("node")
        keyID = try r.string("keyid")
        guard Signature.isKeyID(keyID) else { throw r.error("keyid", .invalidValue, "expected 16 lowercase hex digits") }
        reason = try r.string("reason", maxBytes: Self.maxReasonBytes)
        issuedAt = try r.timestamp("issued_at")
    }

    /// The revocation as it travels, inside the ledger's signed envelope.
    public var json: JSONValue {
        [
            "fleet": .string(fleet.rawValue), "epoch": .int(Int64(epoch)), "node": .string(node.rawValue), "keyid": .string(keyID),
            "reason": .string(reason), "issued_at": .string(issuedAt.rfc3339),
        ]
    }
}
