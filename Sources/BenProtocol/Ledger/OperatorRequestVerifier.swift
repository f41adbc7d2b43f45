public import BenCore

/// Decides whether a state-changing operator request may act, once the shell has checked its signature against
/// the trusted operator keys and hashed its body: it must be for this fleet and this verb, dated within the
/// allowed skew of the ledger's clock, carry the body it names, and not repeat a nonce seen within twice that
/// skew (a replay). Pure: time comes in as `now`; the nonce window is its only state.
public struct OperatorRequestVerifier: Sendable {
    /// Why a request was refused, in the sentence the operator sees.
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        case wrongTarget(fleet: FleetName, verb: String)
        case stale(at: Timestamp, now: Timestamp, skew: Duration)
        case bodyMismatch
        case replay

        /// Why the request was refused, in words for the operator.
        public var description: String {
            switch self {
            case .wrongTarget(let fleet, let verb): "refused: signed for \(fleet) \(verb)"
            case .stale(let at, let now, let skew):
                "refused: the request is dated \(at), more than \(skew.components.seconds / 60) minutes from the ledger's clock (\(now))"
            case .bodyMismatch: "refused: the body does not match the signed request"
            case .replay: "refused: a replayed request"
            }
        }
    }

    /// The fleet requests must name.
    public let fleet: FleetName
    /// How far a request's date may be from the ledger's clock.
    public let skew: Duration
    /// Nonces seen within the replay window, with the request's date.
    private(set) var recentNonces: [String: Timestamp] = [:]

    /// A verifier for `fleet` that allows requests dated up to `skew` from the ledger's clock.
    public init(fleet: FleetName, skew: Duration = OperatorAPI.clockSkew) {
        self.fleet = fleet
        self.skew = skew
    }

    /// Checks `request` (already signature-verified) for `verb`, whose payload hashed to `bodyKey`. An accepted
    /// request's nonce is remembered, so the same request a second time is a replay.
    public mutating func check(_ request: OperatorRequest, verb: String, bodyKey: Key, now: Timestamp) -> Result<Void, Refusal> {
        guard request.fleet == fleet, request.verb == verb else { return .failure(.wrongTarget(fleet: request.fleet, verb: request.verb)) }
        guard abs((request.at - now).milliseconds) <= skew.milliseconds else {
            return .failure(.stale(at: request.at, now: now, skew: skew))
        }
        guard bodyKey == request.body else { return .failure(.bodyMismatch) }
        recentNonces = recentNonces.filter { now - $0.value < skew * 2 }
        guard recentNonces.updateValue(request.at, forKey: request.nonce) == nil else { return .failure(.replay) }
        return .success(())
    }
}
