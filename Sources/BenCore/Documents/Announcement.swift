/// The ledger's signed statement "version V of fleet F is manifest M, plan P, deadline D" (DESIGN §5).
///
/// A node acts on an announcement only after checking its signature, fleet, expiry, that `version` is newer
/// than the one it runs, and that `epoch` is not older than the highest epoch it has accepted (fencing: a
/// ledger that lost its lease can sign nothing a node still takes; DESIGN §9).
public struct Announcement: CanonicalDocument {
    /// The name errors give the document.
    public static let documentName = "announcement"
    /// Larger input is refused unread (8 KiB).
    public static let maxBytes = 8 << 10
    /// The members an announcement may have; any other is refused.
    public static let fields: Set<String> = [
        "fleet", "version", "manifest", "manifest_size", "plan", "topology", "issued_at", "deadline", "expires",
        "ledger", "epoch", "activation",
    ]

    /// The fleet the version is for; a node of another fleet ignores it.
    public var fleet: FleetName
    /// The version being rolled out.
    public var version: Version
    /// The key of the version's manifest: every chunk a node takes is checked through it.
    public var manifest: Key
    /// Byte length of the manifest's canonical form, so a node can refuse an oversize manifest before reading it.
    public var manifestSize: Int64
    /// The key of the plan (`Plan`) the rollout follows.
    public var plan: Key
    /// The key of the topology the plan was made from (its canonical bytes).
    public var topology: Key
    /// When the ledger signed it.
    public var issuedAt: Timestamp
    /// When the ledger decides: every required ack by then, or the version is incomplete.
    public var deadline: Timestamp
    /// After this a node ignores the announcement, so a replayed old one cannot start work.
    public var expires: Timestamp
    /// The ledger's seed address (host:port): where orphans pull chunks from the store.
    public var ledger: String
    /// The lease epoch of the ledger that signed it: the revision of the fleet's lease entry that its ledger won
    /// (`ben_<fleet>_ledger/leader`). Strictly increasing from one lease holder to the next; 0 when signed
    /// outside any lease (tests, the simulator).
    public var epoch: UInt64
    /// Two-phase (`"activation": "barrier"` on the wire; absent otherwise): a node verifies and compiles the
    /// version, sends a signed `prepared` ack and keeps serving its old version until the ledger's signed
    /// activation tells it when to swap (`Activation`, DESIGN §9). Without it a node swaps as soon as it has
    /// compiled.
    public var twoPhase: Bool

    /// An announcement as the ledger signs it; `epoch` is 0 outside a lease.
    public init(
        fleet: FleetName, version: Version, manifest: Key, manifestSize: Int64, plan: Key, topology: Key,
        issuedAt: Timestamp, deadline: Timestamp, expires: Timestamp, ledger: String, epoch: UInt64 = 0, twoPhase: Bool = false
    ) {
        self.fleet = fleet
        self.version = version
        self.manifest = manifest
        self.manifestSize = manifestSize
        self.plan = plan
        self.topology = topology
        self.issuedAt = issuedAt
        self.deadline = deadline
        self.expires = expires
        self.ledger = ledger
        self.epoch = epoch
        self.twoPhase = twoPhase
    }

    /// Reads an announcement strictly: a `ledger` that is host:port, a manifest size within `Manifest.maxBytes`,
    /// and issued_at ≤ deadline ≤ expires.
    public init(reading r: FieldReader) throws(DocumentError) {
        fleet = try r.fleet("fleet")
        version = try r.version("version")
        manifest = try r.key("manifest")
        manifestSize = try r.int("manifest_size", in: 1...Int64(Manifest.maxBytes))
        plan = try r.key("plan")
        topology = try r.key("topology")
        issuedAt = try r.timestamp("issued_at")
        deadline = try r.timestamp("deadline")
        expires = try r.timestamp("expires")
        ledger = try r.string("ledger")
        epoch = UInt64(try r.int("epoch"))
        if r.has("activation") {
            let mode = try r.string("activation")
            guard mode == "barrier" else {
                throw r.error("activation", .invalidValue, "\"\(mode)\" is not barrier (leave the field out to swap on arrival)")
            }
            twoPhase = true
        } else {
            twoPhase = false
        }
        guard HostPort(ledger) != nil else {
            throw r.error("ledger", .invalidValue, "expected host:port, such as 127.0.0.1:7400")
        }
        guard issuedAt <= deadline, deadline <= expires else {
            throw r.error("deadline", .invalidValue, "expected issued_at ≤ deadline ≤ expires")
        }
    }

    /// The announcement's canonical form, the bytes the ledger signs.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "fleet": .string(fleet.rawValue),
            "version": .int(Int64(version.rawValue)),
            "manifest": .string(manifest.hex),
            "manifest_size": .int(manifestSize),
            "plan": .string(plan.hex),
            "topology": .string(topology.hex),
            "issued_at": .string(issuedAt.rfc3339),
            "deadline": .string(deadline.rfc3339),
            "expires": .string(expires.rfc3339),
            "ledger": .string(ledger),
            "epoch": .int(Int64(epoch)),
        ]
        // Left out unless two-phase, so a one-phase announcement's bytes are what they always were.
        if twoPhase { object["activation"] = .string("barrier") }
        return .object(object)
    }
}
