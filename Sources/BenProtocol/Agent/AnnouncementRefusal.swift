public import BenCore

/// Why an agent did not act on an announcement (DESIGN §5).
public enum AnnouncementRefusal: Sendable, Hashable, CustomStringConvertible {
    case badSignature(String)
    case otherFleet(FleetName)
    case notNewer(running: Version)
    case rollback(highestAccepted: Version)
    case conflictingManifest
    case expired(at: Timestamp)
    case malformed(String)
    /// Signed under an older lease epoch than one this node already accepted: from a ledger that lost its lease.
    case staleEpoch(UInt64, highest: UInt64)

    /// Why, in the words of the signed refusal.
    public var description: String {
        switch self {
        case .badSignature(let detail): "signature: \(detail)"
        case .otherFleet(let f): "it is for fleet \(f)"
        case .notNewer(let v): "not newer than the running \(v)"
        case .rollback(let v): "older than \(v), which this node already accepted (anti-rollback)"
        case .conflictingManifest: "same version as one already accepted, but another manifest"
        case .expired(let t): "expired at \(t)"
        case .malformed(let detail): "malformed: \(detail)"
        case .staleEpoch(let e, let h):
            "epoch \(e) is older than epoch \(h), which this node already accepted (a ledger that lost its lease)"
        }
    }

    /// The BYE reason a link carries when a child refuses this way.
    public var byeReason: String { description }
}
