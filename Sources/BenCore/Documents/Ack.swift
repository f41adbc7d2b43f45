/// A node's signed statement "I activated version V (manifest M)" or "I refused V because R" (DESIGN §5).
public struct Ack: CanonicalDocument {
    public static let documentName = "ack"
    public static let maxBytes = 4 << 10
    public static let fields: Set<String> = ["fleet", "version", "node", "manifest", "status", "reason", "at"]

    public enum Status: String, Sendable, Hashable, CaseIterable {
        case active
        case refused
    }

    public var fleet: FleetName
    public var version: Version
    public var node: NodeID
    public var manifest: Key
    public var status: Status
    /// Empty when active; why, in words an operator can act on, when refused.
    public var reason: String
    public var at: Timestamp

    public static let maxReasonBytes = 1024

    public init(fleet: FleetName, version: Version, node: NodeID, manifest: Key, status: Status, reason: String, at: Timestamp) {
        self.fleet = fleet
        self.version = version
        self.node = node
        self.manifest = manifest
        self.status = status
        self.reason = String(reason.utf8.prefix(Self.maxReasonBytes)) ?? ""
        self.at = at
    }

    public init(reading r: FieldReader) throws(DocumentError) {
        fleet = try r.fleet("fleet")
        version = try r.version("version")
        node = try r.node("node")
        manifest = try r.key("manifest")
        let statusText = try r.string("status")
        guard let status = Status(rawValue: statusText) else {
            throw r.error("status", .invalidValue, "\"\(statusText)\" is not active or refused")
        }
        self.status = status
        reason = try r.string("reason")
        guard reason.utf8.count <= Self.maxReasonBytes else {
            throw r.error("reason", .invalidValue, "longer than \(Self.maxReasonBytes) bytes")
        }
        guard status == .active || !reason.isEmpty else {
            throw r.error("reason", .invalidValue, "a refusal must say why")
        }
        at = try r.timestamp("at")
    }

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
