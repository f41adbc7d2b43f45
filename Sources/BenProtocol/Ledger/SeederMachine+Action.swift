public import BenCore

extension SeederMachine {
    /// What the seeder asks the ledger's shell to do, in order.
    public enum Action: Sendable, Hashable {
        /// Open a TCP link to a first-level node (or an adopted one) and report `.linkConnected`.
        case connect(LinkID, peer: PlanNode, purpose: Hello.Purpose)
        /// Write one frame; chunks and the manifest are read from the ledger's store when sent.
        case send(LinkID, OutboundFrame)
        /// Close a link, after a BYE with this code and reason if one is given.
        case close(LinkID, ByeCode?, reason: String)
        /// Hand an aggregate that reached the root (or the seeder's own report of a first-level node) to the
        /// deployment machine, which checks every signature in it.
        case ingest(Aggregate)
        case armTimer(Timer, at: Timestamp)
        case cancelTimer(Timer)
        case report(PeerReport)
    }

    /// The seeder's timers.
    public enum Timer: Sendable, Hashable, CustomStringConvertible {
        /// Try an unreachable first-level node again.
        case linkRetry(Version, NodeID)
        /// Look again at pulls held back while seeding moved (`Settings.seedingGrace`).
        case pullsHeld(Version)

        /// The timer as logs name it.
        public var description: String {
            switch self {
            case .linkRetry(let v, let n): "link-retry(\(v), \(n))"
            case .pullsHeld(let v): "pulls-held(\(v))"
            }
        }
    }

    func lift(_ relay: [RelayAction]) -> [Action] {
        relay.map { action in
            switch action {
            case .connect(let link, let peer, let purpose): .connect(link, peer: peer, purpose: purpose)
            case .send(let link, let frame): .send(link, frame)
            case .close(let link, let code, let reason): .close(link, code, reason: reason)
            case .retry(let version, let child, let at): .armTimer(.linkRetry(version, child), at: at)
            case .report(let report): .report(report)
            }
        }
    }
}
