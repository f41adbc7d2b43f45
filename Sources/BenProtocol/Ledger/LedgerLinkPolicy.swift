/// Which frames the ledger takes on its peer links, and from whom (issue 14: a decision, so it is pure). The
/// ledger connects to the first level of its stripe trees itself; the only links that come to it are nodes
/// pulling from its store, whose first frame must be a pull HELLO. It never takes plans, manifests or chunks.
public enum LedgerLinkPolicy {
    /// What the ledger does with a frame.
    public enum Verdict: Sendable, Hashable {
        /// The first frame of an accepted link: a node pulling this version from the store.
        case pull(Hello)
        /// A frame on a link a seeder owns (one it opened, or an accepted pull): the seeder handles it.
        case seeder
        /// Close the link, saying why.
        case refuse(String)
        /// The one frame of a link a gossip member opened to deliver a message too large for a datagram: the
        /// ledger's gossip checks its signature; the link then closes.
        case gossip([UInt8])
    }

    /// Whether the ledger takes `frame`, the first on its link when `firstOnLink`.
    public static func admit(_ frame: PeerFrame, firstOnLink: Bool) -> Verdict {
        if firstOnLink, case .gossip(_, let datagram) = frame { return .gossip(datagram) }
        if firstOnLink {
            guard case .hello(let hello) = frame else {
                return .refuse("the first frame on a link to the ledger must be HELLO, not \(frame.kind)")
            }
            guard hello.purpose == .pull else { return .refuse("the ledger accepts only pulls from its store; nodes do not push to it") }
            return .pull(hello)
        }
        switch frame {
        case .hello, .ack, .nack, .bye: return .seeder
        case .plan, .manifest, .chunk, .gossip: return .refuse("the ledger does not accept \(frame.kind) frames")
        }
    }
}
