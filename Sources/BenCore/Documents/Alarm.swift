/// The ledger's signed statement "stop version V" (context `ben/alarm/v1`): issued when a rollout is aborted, and
/// carried by NATS (`ben.<fleet>.alarm`) and by gossip, so a node cut off from NATS hears it too.
///
/// A node acts on it only if the signature is by a trusted ledger key, `fleet` is its own and `epoch` is not older
/// than the highest it accepted. It then drops V if it holds V prepared (compiled, not swapped in) and takes no
/// activation of V from then on. It never touches the version it runs: going back is a rollback, a new version.
public struct Alarm: CanonicalDocument {
    /// The name errors give the document.
    public static let documentName = "alarm"
    /// Larger input is refused unread (4 KiB).
    public static let maxBytes = 4 << 10
    /// The longest reason an alarm carries, in bytes of UTF-8 (short enough that an alarm fits one datagram).
    public static let maxReasonBytes = 512
    /// The members an alarm may have; any other is refused.
    public static let fields: Set<String> = ["fleet", "epoch", "version", "reason", "issued_at"]

    /// The fleet; a node ignores another fleet's alarm.
    public var fleet: FleetName
    /// The lease epoch of the ledger that signed it (fencing, as on announcements).
    public var epoch: UInt64
    /// The version to stop.
    public var version: Version
    /// Why, in the operator's words ("aborted by the operator").
    public var reason: String
    /// When the ledger signed it.
    public var issuedAt: Timestamp

    /// An alarm as the ledger signs it; a longer reason is cut to `maxReasonBytes` (dropped whole if the cut would
    /// split a character).
    public init(fleet: FleetName, epoch: UInt64 = 0, version: Version, reason: String, issuedAt: Timestamp) {
        self.fleet = fleet
        self.epoch = epoch
        self.version = version
        self.reason = String(reason.utf8.prefix(Self.maxReasonBytes)) ?? ""
        self.issuedAt = issuedAt
    }

    /// Reads an alarm strictly: every member present, a reason within `maxReasonBytes`.
    public init(reading r: FieldReader) throws(DocumentError) {
        fleet = try r.fleet("fleet")
        epoch = UInt64(try r.int("epoch"))
        version = try r.version("version")
        reason = try r.string("reason", maxBytes: Self.maxReasonBytes)
        issuedAt = try r.timestamp("issued_at")
    }

    /// The alarm as it travels, inside the ledger's signed envelope.
    public var json: JSONValue {
        [
            "fleet": .string(fleet.rawValue), "epoch": .int(Int64(epoch)), "version": .int(Int64(version.rawValue)),
            "reason": .string(reason), "issued_at": .string(issuedAt.rfc3339),
        ]
    }
}
