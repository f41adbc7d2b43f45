import BenCore
import Glibc

/// What a ledger writes into its fleet's lease entry (`ben_<fleet>_ledger/leader`, DESIGN §9): who it is, so a
/// second ledger can say who serves and until when. An empty value is a lease released on a graceful stop.
struct LeaseValue: Sendable, Hashable {
    /// The ledger's name (`--name`, by default host and pid).
    var ledger: String
    /// Its seed listener, where nodes pull from it.
    var seed: String
    /// How long the lease lasts after each write.
    var ttl: Duration
    /// The epoch it won; 0 in the winning write itself, whose revision is the epoch.
    var epoch: UInt64

    var bytes: [UInt8] {
        let json: JSONValue = [
            "ledger": .string(ledger), "seed": .string(seed), "ttl_ms": .int(ttl.milliseconds), "epoch": .int(Int64(epoch)),
        ]
        return (try? CanonicalJSON.encode(json)) ?? []
    }

    init(ledger: String, seed: String, ttl: Duration, epoch: UInt64) {
        self.ledger = ledger
        self.seed = seed
        self.ttl = ttl
        self.epoch = epoch
    }

    /// Reads a lease value; nil for a released lease (empty) or one that is not Ben's.
    init?(bytes: [UInt8]) {
        guard !bytes.isEmpty, let json = try? JSONParser.parse(bytes), let ledger = json["ledger"]?.stringValue,
            case .int(let ttl)? = json["ttl_ms"]
        else { return nil }
        self.ledger = ledger
        seed = json["seed"]?.stringValue ?? "?"
        self.ttl = .milliseconds(ttl)
        epoch = UInt64(max(0, json["epoch"]?.intValue ?? 0))
    }

    /// A ledger's default name: where it runs and its pid.
    static var defaultName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "\(host.isEmpty ? "localhost" : host) pid \(getpid())"
    }
}

/// The lease this ledger holds, as it knows it.
struct HeldLease: Sendable {
    /// The revision that won the lease: the ledger's epoch.
    var epoch: UInt64
    /// The latest revision this ledger wrote (the next renewal's compare-and-set).
    var revision: UInt64
    /// Until when the ledger may act: the start of its last successful write plus nine tenths of the TTL. The
    /// server keeps the entry for the TTL from when it stored the write, which is later, so the ledger stops
    /// acting before anyone else can win the lease.
    var validUntil: ContinuousClock.Instant
    /// Set once the ledger knows it lost the lease (a newer epoch seen, a renewal refused): it never acts again.
    var lost: String?

    var isValid: Bool { lost == nil && ContinuousClock.now < validUntil }
}
