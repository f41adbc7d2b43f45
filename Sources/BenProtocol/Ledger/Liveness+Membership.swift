public import BenCore

extension Liveness {
    /// What the ledger's gossip membership says of the nodes, for planning: present only while gossip runs at the
    /// ledger and it has heard from some member recently (otherwise membership knows nothing and must not decide).
    public struct Membership: Sendable, Hashable {
        /// Nodes membership holds dead. A node membership has no record of is presumed alive (SWIM: every member of
        /// the roster is alive until someone's probes fail), as is one it holds suspect.
        public var dead: Set<NodeID>

        /// What membership says: the nodes it holds dead.
        public init(dead: Set<NodeID>) {
            self.dead = dead
        }
    }

    /// The nodes to plan around (`down`), sorted.
    ///
    /// With membership, a node is down when membership holds it dead and no heartbeat within `after` says
    /// otherwise: a node that only lost NATS (heartbeat-silent, but alive to its gossip peers) stays in the plan, and
    /// is reached over the tree; one that died is planned around as soon as its monitors declare it dead, long before
    /// heartbeat silence would. Without membership (gossip off, or the ledger has heard no member lately), a node is
    /// down when it has been heartbeat-silent for longer than `after` (`silent`).
    public static func down(_ heard: [NodeID: Heard], membership: Membership?, now: Timestamp, after: Duration) -> [NodeID] {
        guard let membership else { return silent(heard, now: now, after: after) }
        return membership.dead.filter { node in
            guard let beat = heard[node] else { return true }
            return now - beat.receivedAt > after
        }.sorted()
    }
}
