public import BenCore

/// Whether nodes are alive, judged on the ledger's clock (issue 13): silence is measured from when the ledger
/// *received* a node's last heartbeat, never from the node's own timestamp, so a node whose clock is wrong is
/// neither kept alive nor called silent by it. Pure: the shell passes what it received and when.
public enum Liveness {
    /// One node's last heartbeat: the time the node wrote in it and the time the ledger received it.
    public struct Heard: Sendable, Hashable {
        /// The time the node wrote in its heartbeat, by its clock.
        public var nodeTime: Timestamp
        /// When the ledger received it, by the ledger's clock.
        public var receivedAt: Timestamp

        /// A heartbeat that said `nodeTime` and arrived at `receivedAt`.
        public init(nodeTime: Timestamp, receivedAt: Timestamp) {
            self.nodeTime = nodeTime
            self.receivedAt = receivedAt
        }

        /// How far the node's clock is ahead of the ledger's (negative: behind).
        public var offset: Duration { nodeTime - receivedAt }
    }

    /// Nodes not heard from for longer than `after`, sorted: the planner plans around them.
    public static func silent(_ heard: [NodeID: Heard], now: Timestamp, after: Duration) -> [NodeID] {
        heard.filter { now - $0.value.receivedAt > after }.map(\.key).sorted()
    }

    /// Whether a node's clock is off by more than `tolerance` (shown as `clock_skew`, never as down).
    public static func isSkewed(_ heard: Heard, tolerance: Duration) -> Bool {
        abs(heard.offset.milliseconds) > tolerance.milliseconds
    }
}
