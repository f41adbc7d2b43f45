public import BenCore

/// Chooses a node's gossip view: a small, topology-aware partial view of the roster (Plumtree's and SWIM's
/// neighbours), deterministic for a seed.
///
/// A view takes some peers in the node's rack (cheap, fast links; they notice a dead rack-mate first), some in other
/// racks of its zone, some in other zones of its region and some in other regions, so that losing a rack, a zone or
/// a region's uplink never cuts a node off from everyone, and a broadcast crosses each boundary in a few hops. When
/// a tier has fewer candidates than its quota (a one-region fleet has no cross-region peers) the rest of its quota
/// goes to the next nearer tier, and what still cannot be filled goes outward again.
///
/// The view is ordered tier by tier in turn (rack, cross-rack, cross-zone, cross-region, rack, …), so any prefix is
/// as diverse as its length allows: `BroadcastMachine` takes its first eager peers from the front.
public enum PeerSelection {
    /// How many peers of each tier a view takes.
    public struct Quota: Sendable, Hashable {
        /// Peers in this node's own rack.
        public var inRack: Int
        /// Peers in its zone but another rack.
        public var crossRack: Int
        /// Peers in its region but another zone.
        public var crossZone: Int
        /// Peers in other regions.
        public var crossRegion: Int

        /// 4 + 4 + 3 + 3 = 14 peers: about log2 of a 16 000-node fleet, and enough that a view survives losing its
        /// whole rack or zone with peers to spare.
        public init(inRack: Int = 4, crossRack: Int = 4, crossZone: Int = 3, crossRegion: Int = 3) {
            self.inRack = inRack
            self.crossRack = crossRack
            self.crossZone = crossZone
            self.crossRegion = crossRegion
        }

        /// How many peers in all.
        public var total: Int { inRack + crossRack + crossZone + crossRegion }
    }

    /// The view of `node`, or an empty view when the roster does not list it.
    ///
    /// Same roster, quota and seed ⇒ same view. Different nodes get independent draws (the seed is mixed with the
    /// node's id), so in-views are spread evenly.
    public static func view(of node: NodeID, in roster: GossipRoster, quota: Quota = Quota(), seed: UInt64) -> [NodeID] {
        guard let me = roster.position(of: node) else { return [] }
        let location = roster.peers[me].location
        let rack = roster.rackRange[location.rack]!
        let zone = roster.zoneRange[location.zone]!
        let region = roster.regionRange[location.region]!
        let all = 0..<roster.count
        // Candidates of each tier as (outer range minus inner range); the node itself is excluded from the rack tier.
        let tiers: [(outer: Range<Int>, inner: Range<Int>)] = [
            (rack, me..<(me + 1)), (zone, rack), (region, zone), (all, region),
        ]
        var want = [quota.inRack, quota.crossRack, quota.crossZone, quota.crossRegion]
        let available = tiers.map { $0.outer.count - $0.inner.count }
        // Carry what a tier cannot fill inward (toward the rack), then what is left outward.
        for t in stride(from: 3, to: 0, by: -1) where want[t] > available[t] {
            want[t - 1] += want[t] - available[t]
            want[t] = available[t]
        }
        for t in 0..<3 where want[t] > available[t] {
            want[t + 1] += want[t] - available[t]
            want[t] = available[t]
        }
        for t in 0..<4 { want[t] = min(want[t], available[t]) }
        var random = GossipRandom(seed: seed, stream: GossipRandom.hash(node.rawValue))
        var picked: [[Int]] = []
        for t in 0..<4 {
            picked.append(sample(want[t], from: tiers[t].outer, excluding: tiers[t].inner, using: &random))
        }
        var view: [NodeID] = []
        let total = picked.map(\.count).reduce(0, +)
        view.reserveCapacity(total)
        var round = 0
        while view.count < total {
            for t in 0..<4 where round < picked[t].count { view.append(roster.peers[picked[t][round]].node) }
            round += 1
        }
        return view
    }

    /// `count` distinct positions drawn uniformly from `outer` minus `inner` (inner lies within outer).
    static func sample(_ count: Int, from outer: Range<Int>, excluding inner: Range<Int>, using random: inout GossipRandom) -> [Int] {
        let size = outer.count - inner.count
        guard count > 0, size > 0 else { return [] }
        func position(_ k: Int) -> Int {
            let before = inner.lowerBound - outer.lowerBound
            return k < before ? outer.lowerBound + k : inner.upperBound + (k - before)
        }
        if count >= size { return (0..<size).map(position) }
        var chosen: [Int] = []
        chosen.reserveCapacity(count)
        if size <= 4 * count {
            var all = Array(0..<size)
            for i in 0..<count { all.swapAt(i, i + random.below(size - i)) }
            chosen = all.prefix(count).map(position)
        } else {
            // Few picks from a large pool: draw again on a repeat (expected draws < count × 4/3).
            var taken: [Int] = []
            while taken.count < count {
                let k = random.below(size)
                if !taken.contains(k) { taken.append(k) }
            }
            chosen = taken.map(position)
        }
        return chosen
    }
}
