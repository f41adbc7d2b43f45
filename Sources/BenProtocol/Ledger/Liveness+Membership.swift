public import BenCore

extension Liveness {
    /// What the ledger's gossip membership says of the nodes, for planning: present only while gossip runs at the
    /// ledger and it has heard from some member recently (otherwise membership knows nothing and must not decide).
    public struct Membership: Sendable, Hashable {
        /// Nodes membership holds dead, with when the ledger learnt it (its clock). A node membership has no record
        /// of is presumed alive (SWIM: every member of the roster is alive until someone's probes fail), as is one
        /// it holds suspect.
        public var dead: [NodeID: Timestamp]

        /// What membership says: the nodes it holds dead, and since when.
        public init(dead: [NodeID: Timestamp]) {
            self.dead = dead
        }
    }

    /// The nodes to plan around (`down`), sorted.
    ///
    /// With membership, membership decides: a node is down when membership holds it dead, unless a heartbeat the
    /// ledger received *after* it learnt of the death (and within `after`) says the node still runs, its gossip
    /// cut but its NATS not. A heartbeat from before the death proves nothing (the node sent it, then died), so a node
    /// that died is planned around as soon as its monitors declare it dead, not once its heartbeats have been silent
    /// for `after`; and a node that only lost NATS (heartbeat-silent, but alive to its gossip peers) stays in the
    /// plan and is reached over the tree. Without membership (gossip off, or the ledger has heard no member lately),
    /// a node is down when it has been heartbeat-silent for longer than `after` (`silent`).
    public static func down(_ heard: [NodeID: Heard], membership: Membership?, now: Timestamp, after: Duration) -> [NodeID] {
        guard let membership else { return silent(heard, now: now, after: after) }
        return membership.dead.filter { node, declared in
            guard let beat = heard[node] else { return true }
            let heardSinceDeath = beat.receivedAt > declared && now - beat.receivedAt <= after
            return !heardSinceDeath
        }.keys.sorted()
    }
}
