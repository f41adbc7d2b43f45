/// A node's periodic "I run version V" on `ben.<fleet>.heartbeat` (DESIGN §5): every 30 s with jitter and on
/// every change. The ledger uses them to show drift; they prove nothing (acks do) and are not signed.
public struct Heartbeat: CanonicalDocument {
    /// The name errors give the document.
    public static let documentName = "heartbeat"
    /// Larger input is refused unread (4 KiB).
    public static let maxBytes = 4 << 10
    /// The members a heartbeat may have; any other is refused.
    public static let fields: Set<String> = ["fleet", "node", "active", "manifest", "working", "at", "alerts"]

    /// The node's fleet.
    public var fleet: FleetName
    /// The node that sent it (unverified: heartbeats are not signed).
    public var node: NodeID
    /// The version the node serves (0 before its first activation).
    public var active: Version
    /// The manifest of the active version; nil before the first activation.
    public var manifest: Key?
    /// What it is working on, if anything: "v8 receiving 12/64", for the status page.
    public var working: String
    /// When the node sent it, by the node's clock (the ledger compares it with its own to show skew).
    public var at: Timestamp
    /// Alerts the active version's own detection rules raised on this node since it was swapped in (0, and left
    /// out on the wire, for a node that runs no detector or raised none). A rollout's alert gate sums them over a
    /// wave's nodes during its bake.
    public var alerts: Int

    /// A heartbeat as a node sends it.
    public init(fleet: FleetName, node: NodeID, active: Version, manifest: Key?, working: String, at: Timestamp, alerts: Int = 0) {
        self.fleet = fleet
        self.node = node
        self.active = active
        self.manifest = manifest
        self.working = working
        self.at = at
        self.alerts = alerts
    }

    /// Reads a heartbeat strictly; `manifest` may be absent.
    public init(reading r: FieldReader) throws(DocumentError) {
        fleet = try r.fleet("fleet")
        node = try r.node("node")
        active = Version(UInt64(try r.int("active")))
        manifest = r.has("manifest") ? try r.key("manifest") : nil
        working = try r.string("working")
        at = try r.timestamp("at")
        alerts = r.has("alerts") ? Int(try r.int("alerts")) : 0
    }

    /// The heartbeat as it travels; `manifest` appears only when there is one.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "fleet": .string(fleet.rawValue), "node": .string(node.rawValue), "active": .int(Int64(active.rawValue)),
            "working": .string(working), "at": .string(at.rfc3339),
        ]
        if let manifest { object["manifest"] = .string(manifest.hex) }
        if alerts > 0 { object["alerts"] = .int(Int64(alerts)) }
        return .object(object)
    }
}
