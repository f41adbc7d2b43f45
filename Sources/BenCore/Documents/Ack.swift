/// A node's signed statement "I activated version V (manifest M)", "I refused V because R" (DESIGN §5), or, in a
/// two-phase rollout, "I hold V verified and compiled, ready to swap" (`prepared`, DESIGN §9).
public struct Ack: CanonicalDocument {
    /// The name errors give the document.
    public static let documentName = "ack"
    /// Larger input is refused unread (4 KiB).
    public static let maxBytes = 4 << 10
    /// The members an ack may have; any other is refused.
    public static let fields: Set<String> = ["fleet", "version", "node", "manifest", "status", "reason", "at"]

    /// What the node did with the version; the raw value is the word on the wire.
    public enum Status: String, Sendable, Hashable, CaseIterable {
        /// The node verified, compiled and swapped in the version and serves it now.
        case active
        /// The node will not run the version; `reason` says why, and it keeps serving what it ran.
        case refused
        /// Verified and compiled, not swapped: the node waits for the ledger's signed activation (two-phase).
        case prepared
    }

    /// The node's fleet.
    public var fleet: FleetName
    /// The version this ack answers.
    public var version: Version
    /// The node that signed it; the ledger checks the signature against this node's key in the topology.
    public var node: NodeID
    /// The manifest the node activated or refused, so an ack for other content never counts.
    public var manifest: Key
    /// Activated or refused.
    public var status: Status
    /// Empty when active or prepared; why, in words an operator can act on, when refused.
    public var reason: String
    /// When the node decided, by its clock.
    public var at: Timestamp

    /// The longest reason an ack carries, in bytes of UTF-8.
    public static let maxReasonBytes = 1024

    /// An ack as a node signs it; a longer reason is cut to `maxReasonBytes` (and dropped whole if the cut would
    /// split a character).
    public init(fleet: FleetName, version: Version, node: NodeID, manifest: Key, status: Status, reason: String, at: Timestamp) {
        self.fleet = fleet
        self.version = version
        self.node = node
        self.manifest = manifest
        self.status = status
        self.reason = String(reason.utf8.prefix(Self.maxReasonBytes)) ?? ""
        self.at = at
    }

    /// Reads an ack strictly: a known status, a reason within `maxReasonBytes`, and a reason whenever the status is
    /// refused.
    public init(reading r: FieldReader) throws(DocumentError) {
        fleet = try r.fleet("fleet")
        version = try r.version("version")
        node = try r.node("node")
        manifest = try r.key("manifest")
        let statusText = try r.string("status")
        guard let status = Status(rawValue: statusText) else {
            throw r.error("status", .invalidValue, "\"\(statusText)\" is not active, prepared or refused")
        }
        self.status = status
        reason = try r.string("reason", maxBytes: Self.maxReasonBytes)
        guard status != .refused || !reason.isEmpty else {
            throw r.error("reason", .invalidValue, "a refusal must say why")
        }
        at = try r.timestamp("at")
    }

    /// The ack's canonical form, the bytes its node signs.
    public var json: JSONValue {
        .object([
            "fleet": .string(fleet.rawValue),
            "version": .int(Int64(version.rawValue)),
            "node": .string(node.rawValue),
            "manifest": .string(manifest.hex),
            "status": .string(status.rawValue),
            "reason": .string(reason),
            "at": .string(at.rfc3339),
        ])
    }
}
