public import BenCore

/// The node keys the ledger revoked, as one process holds them (issue 16): which revocations it takes, and which
/// signatures it then refuses. The shells check the revocation's signature and compute a key's id; every decision
/// about them is made here.
public struct RevocationList: Sendable, Hashable {
    /// The revocations taken, by the id of the key each revokes.
    public private(set) var byKeyID: [String: Revocation] = [:]

    /// A list of revocations already taken (read back from disk, or the ledger's database).
    public init(_ revocations: [Revocation] = []) {
        for revocation in revocations { byKeyID[revocation.keyID] = revocation }
    }

    /// What `admit` made of a revocation.
    public enum Admission: Sendable, Hashable {
        /// New: keep it (durably) and refuse the key from now on.
        case added
        /// This key was revoked already; nothing changes.
        case known
        /// Not taken, and why.
        case refused(String)
    }

    /// Takes `revocation` if its signature is a trusted ledger's, it is for `fleet`, and its epoch is not older than
    /// `highestEpoch` (the highest this process accepted; fencing, as for announcements).
    public mutating func admit(_ revocation: Revocation, signature: SignatureCheck, fleet: FleetName, highestEpoch: UInt64) -> Admission {
        if case .invalid(let detail) = signature { return .refused("its signature is not a trusted ledger's: \(detail)") }
        guard revocation.fleet == fleet else { return .refused("it is for fleet \(revocation.fleet)") }
        guard revocation.epoch >= highestEpoch else {
            return .refused("epoch \(revocation.epoch) is older than epoch \(highestEpoch), which this node already accepted")
        }
        guard byKeyID[revocation.keyID] == nil else { return .known }
        byKeyID[revocation.keyID] = revocation
        return .added
    }

    /// Why a signature by the key `keyID` must be refused, or nil when that key is not revoked. A revoked key is
    /// refused whichever node it claims to be.
    public func refusal(keyID: String) -> String? {
        guard let r = byKeyID[keyID] else { return nil }
        return "key \(keyID) of \(r.node) was revoked by the ledger at \(r.issuedAt.rfc3339) (\(r.reason))"
    }

    /// The revocations taken, oldest first (then by key id), as they are written down.
    public var revocations: [Revocation] {
        byKeyID.values.sorted { ($0.issuedAt, $0.keyID) < ($1.issuedAt, $1.keyID) }
    }

    /// How many keys are revoked.
    public var count: Int { byKeyID.count }
}
