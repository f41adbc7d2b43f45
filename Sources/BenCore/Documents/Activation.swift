/// The ledger's signed statement "swap version V (manifest M) in at time B" (context `ben/activate/v1`, DESIGN §9):
/// the second phase of a two-phase rollout.
///
/// A node acts on it only if it holds V prepared (verified and compiled, its signed `prepared` ack sent), the
/// signature is by a trusted ledger key, `fleet` is its own, `manifest` is the one it prepared and `epoch` is not
/// older than the highest it accepted. It then swaps when its own clock reads `barrier` (at once if that has
/// passed) and sends its signed `active` ack. It carries no bytes of the bundle: every node already holds them.
public struct Activation: CanonicalDocument {
    public static let documentName = "activation"
    public static let maxBytes = 4 << 10
    public static let fields: Set<String> = ["fleet", "version", "manifest", "barrier", "issued_at", "epoch"]

    public var fleet: FleetName
    public var version: Version
    public var manifest: Key
    /// When every prepared node swaps, by its own clock.
    public var barrier: Timestamp
    public var issuedAt: Timestamp
    /// The lease epoch of the ledger that signed it, as on announcements (fencing).
    public var epoch: UInt64

    public init(fleet: FleetName, version: Version, manifest: Key, barrier: Timestamp, issuedAt: Timestamp, epoch: UInt64 = 0) {
        self.fleet = fleet
        self.version = version
        self.manifest = manifest
        self.barrier = barrier
        self.issuedAt = issuedAt
        self.epoch = epoch
    }

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

    public var json: JSONValue {
        [
            "fleet": .string(fleet.rawValue), "version": .int(Int64(version.rawValue)), "manifest": .string(manifest.hex),
            "barrier": .string(barrier.rfc3339), "issued_at": .string(issuedAt.rfc3339), "epoch": .int(Int64(epoch)),
        ]
    }
}
