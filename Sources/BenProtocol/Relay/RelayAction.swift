import BenCore

/// What the relay core (shared by the agent and the seeder) asks for; each machine turns these into its own
/// actions, so neither machine's shell sees what only the other does.
enum RelayAction: Sendable, Hashable {
    case connect(LinkID, peer: PlanNode, purpose: Hello.Purpose)
    case send(LinkID, OutboundFrame)
    case close(LinkID, ByeCode?, reason: String)
    /// Try this child again at `at` (its machine arms its own link-retry timer).
    case retry(Version, NodeID, at: Timestamp)
    case report(PeerReport)
}
