/// A node's own signed word that a feeder served it bytes that did not match their key (`ben/report/v1`).
///
/// The ledger calls a relay suspect only on such a report, checked against the victim's key: a relay's claims
/// about other nodes are its own (DESIGN §9), so no relay can get another blamed. `relay` is the authenticated
/// identity of the link the bytes came on, never a name the peer gave itself.
public struct TamperReport: CanonicalDocument {
    /// The name errors give the document.
    public static let documentName = "tamper report"
    /// Larger input is refused unread (4 KiB).
    public static let maxBytes = 4 << 10
    /// The members a report may have; any other is refused.
    public static let fields: Set<String> = ["fleet", "version", "node", "relay", "detail", "at"]

    /// The fleet.
    public var fleet: FleetName
    /// The version whose bytes were bad.
    public var version: Version
    /// The node the bytes were served to (the signer).
    public var node: NodeID
    /// The node that served them.
    public var relay: NodeID
    /// What was wrong ("served chunk 3 with bytes that do not match its key").
    public var detail: String
    /// When the node found out, by its clock.
    public var at: Timestamp

    /// A report as the victim signs it; a longer detail is cut to its first 512 bytes (and dropped whole if the cut
    /// would split a character).
    public init(fleet: FleetName, version: Version, node: NodeID, relay: NodeID, detail: String, at: Timestamp) {
        self.fleet = fleet
        self.version = version
        self.node = node
        self.relay = relay
        self.detail = String(detail.utf8.prefix(512)) ?? ""
        self.at = at
    }

    /// Reads a report strictly; a detail over 512 bytes is refused. The signature is checked by the caller, against
    /// `node`'s key.
    public init(reading r: FieldReader) throws(DocumentError) {
        fleet = try r.fleet("fleet")
        version = try r.version("version")
        node = try r.node("node")
        relay = try r.node("relay")
        detail = try r.string("detail", maxBytes: 512)
        at = try r.timestamp("at")
    }

    /// The report's canonical form, the bytes the victim signs.
    public var json: JSONValue {
        .object([
            "fleet": .string(fleet.rawValue), "version": .int(Int64(version.rawValue)), "node": .string(node.rawValue),
            "relay": .string(relay.rawValue), "detail": .string(detail), "at": .string(at.rfc3339),
        ])
    }
}
