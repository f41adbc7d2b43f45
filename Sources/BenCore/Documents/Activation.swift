/// The ledger's signed statement "swap version V (manifest M) in at time B" (context `ben/activate/v1`, DESIGN §9):
/// the second phase of a two-phase rollout.
///
/// A node acts on it only if it holds V prepared (verified and compiled, its signed `prepared` ack sent), the
/// signature is by a trusted ledger key, `fleet` is its own, `manifest` is the one it prepared and `epoch` is not
/// older than the highest it accepted. It then swaps when its own clock reads `barrier` (at once if that has
/// passed) and sends its signed `active` ack. It carries no bytes of the bundle: every node already holds them.
public struct Activation: CanonicalDocument {
    /// The name errors give the document.
    public static let documentName = "activation"
    /// Larger input is refused unread (4 KiB).
    public static let maxBytes = 4 << 10
    /// The members an activation may have; any other is refused.
    public static let fields: Set<String> = ["fleet", "version", "manifest", "barrier", "issued_at", "epoch"]

    /// The fleet; a node ignores another fleet's activation.
    public var fleet: FleetName
    /// The prepared version to swap in.
    public var version: Version
    /// The manifest the node must have prepared for `version`.
    public var manifest: Key
    /// When every prepared node swaps, by its own clock.
    public var barrier: Timestamp
    /// When the ledger signed it (never after `barrier`).
    public var issuedAt: Timestamp
    /// The lease epoch of the ledger that signed it, as on announcements (fencing).
    public var epoch: UInt64

    /// An activation as the ledger signs it.
    public init(fleet: FleetName, version: Version, manifest: Key, barrier: Timestamp, issuedAt: Timestamp, epoch: UInt64 = 0) {
        self.fleet = fleet
        self.version = version
        self.manifest = manifest
        self.barrier = barrier
        self.issuedAt = issuedAt
        self.epoch = epoch
    }

    /// Reads an activation strictly: every member present, `issued_at` not after `barrier`.
    public init(reading r: FieldReader) throws(DocumentError) {
        fleet = try r.fleet("fleet")
        version = try r.version("version")
        manifest = try r.key("manifest")
        barrier = try r.timestamp("barrier")
        issuedAt = try r.timestamp("issued_at")
        epoch = UInt64(try r.int("epoch"))
        guard issuedAt <= barrier else {
            throw r.error("barrier", .invalidValue, "expected issued_at ≤ barrier")
        }
    }

    /// The activation as it travels, inside the ledger's signed envelope.
    public var json: JSONValue {
        [
            "fleet": .string(fleet.rawValue), "version": .int(Int64(version.rawValue)), "manifest": .string(manifest.hex),
            "barrier": .string(barrier.rfc3339), "issued_at": .string(issuedAt.rfc3339), "epoch": .int(Int64(epoch)),
        ]
    }
}
