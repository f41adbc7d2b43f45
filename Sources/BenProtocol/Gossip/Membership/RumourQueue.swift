import BenCore

/// Updates waiting to be piggybacked (SWIM's dissemination buffer): at most one per member, the least transmitted
/// first (as memberlist's transmit-limited queue and SWIM.Instance's gossip heap order them) and, among equals, the
/// most recently queued or sent.
///
/// One stack per transmission count makes taking the next updates O(taken) rather than a sort of the whole queue per
/// message (after a partition heals the queue holds hundreds). A replaced update leaves a stale slot behind, skipped
/// and dropped when reached; the stacks are rebuilt if stale slots ever outnumber live ones.
struct RumourQueue: Sendable, Hashable {
    struct Entry: Sendable, Hashable {
        var update: MemberUpdate
        var transmissions: Int
        var order: UInt64
    }

    struct Slot: Sendable, Hashable {
        var node: NodeID
        var order: UInt64
    }

    private(set) var entries: [NodeID: Entry] = [:]
    private var stacks: [[Slot]] = []
    private var slots = 0
    private var next: UInt64 = 0

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }
    func contains(_ node: NodeID) -> Bool { entries[node] != nil }

    /// Queues `update` (replacing any update about the same member) with no transmissions; past `cap` entries the
    /// most transmitted, then oldest, is dropped.
    mutating func push(_ update: MemberUpdate, cap: Int) {
        next &+= 1
        entries[update.node] = Entry(update: update, transmissions: 0, order: next)
        place(Slot(node: update.node, order: next), at: 0)
        if entries.count > cap { dropWorst() }
        if slots > 4 * entries.count + 64 { rebuild() }
    }

    /// Takes up to `max` updates in queue order, skipping (and leaving in place) any that `accept` refuses. Each one
    /// taken counts a transmission; one that reaches `limit` leaves the queue.
    mutating func take(max: Int, limit: Int, accept: (MemberUpdate) -> Bool) -> [MemberUpdate] {
        var out: [MemberUpdate] = []
        var moved: [(Slot, Int)] = []
        var t = 0
        while t < stacks.count && out.count < max {
            var kept: [Slot] = []
            while out.count < max, let slot = stacks[t].popLast() {
                slots -= 1
                guard let e = entries[slot.node], e.order == slot.order, e.transmissions == t else { continue }
                if accept(e.update) {
                    out.append(e.update)
                    moved.append((slot, t + 1))
                } else {
                    kept.append(slot)
                }
            }
            for slot in kept.reversed() { place(slot, at: t) }
            t += 1
        }
        // Newest first on the next stack too: push the oldest taken first.
        for (slot, transmissions) in moved.reversed() {
            if transmissions >= limit {
                entries[slot.node] = nil
            } else {
                entries[slot.node]!.transmissions = transmissions
                place(slot, at: transmissions)
            }
        }
        return out
    }

    private mutating func place(_ slot: Slot, at t: Int) {
        while stacks.count <= t { stacks.append([]) }
        stacks[t].append(slot)
        slots += 1
    }

    private mutating func dropWorst() {
        for t in stride(from: stacks.count - 1, through: 0, by: -1) {
            while !stacks[t].isEmpty {
                let slot = stacks[t].removeFirst()
                slots -= 1
                if let e = entries[slot.node], e.order == slot.order, e.transmissions == t {
                    entries[slot.node] = nil
                    return
                }
            }
        }
    }

    private mutating func rebuild() {
        stacks = []
        slots = 0
        for e in entries.values.sorted(by: { ($0.transmissions, $0.order) < ($1.transmissions, $1.order) }) {
            place(Slot(node: e.update.node, order: e.order), at: e.transmissions)
        }
    }
}
