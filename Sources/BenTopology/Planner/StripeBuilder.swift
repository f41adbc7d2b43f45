/// Builds the stripe trees for one shape (k stripe trees, each relay allowed `capacity[t]` children in the
/// one stripe it relays in).
///
/// Each stripe tree is built bottom-up over the hierarchy, then made concrete top-down:
///
/// 1. **Racks.** The rack's relays for this stripe (its members whose relay stripe it is) span the rack: the
///    first is the rack's *entry*, the one node fed from outside. What their capacity leaves over is the rack's
///    *spare*: children it can feed in other racks. If their capacity falls short, the last leaves are the
///    rack's *deficit*: they need parents outside the rack (the only extra crossings, and only when capacity
///    forces them).
/// 2. **Zones, regions, the fleet.** At each level the groups' entries and deficits are placed on the spare
///    of groups already connected, breadth first, the groups with the most spare first (so hubs sit high and
///    the tree stays shallow). What a group cannot place passes up one level; at the top the ledger's slots
///    for this stripe start the tree. A group is thus entered once, plus once per node its own capacity
///    could not reach: as few crossings as capacity allows.
/// 3. **Concrete parents.** Inside each rack every child takes the earliest free send slot of a relay already
///    in the tree (a relay that gets a chunk at time t sends it to its children at t + δ, t + 2δ, …, δ = c/uplink),
///    within the relay's capacity and per-tier fan-out: external children first, in-rack relays as needed to
///    keep slots free, leaves last. This is the greedy broadcast schedule, so the first chunk reaches a rack's
///    last node about as early as the relays' fan-out allows (a binomial-like tree rather than a heap).
/// 4. **Fallback.** Anything a per-tier limit kept from its planned parent takes the nearest connected relay
///    with room (same rack, zone, region, then anywhere), or a spare ledger slot.
struct StripeBuilder {
    let fleet: PlanningFleet
    /// The stripe count, each relay's stripe and capacity, and the ledger's capacity.
    let shape: Shape
    /// Ledger children so far, over all stripes built.
    private(set) var ledgerUsed = 0

    // Per-stripe working state, reused.
    private var order: [Int32]
    private var relayCount: [Int32]
    private var rackSlots: [Int32]
    private var rackDeficit: [Int32]
    private var rackAllow: [Int32]
    private var capLeft: [Int32]
    private var tierUsed: [Int32]
    private var parent: [Int32]
    /// Per target: the time to send one chunk to one child, in units of c/B.
    private let sendTime: [Double]
    private var extRack: [Int32] = []
    private var extNode: [Int32] = []
    private var zoneRoot: [Item]
    private var zoneLeftover: [[Int32]]
    private var zonePending: [[Item]]
    private var regionRoot: [Item]
    private var regionLeftover: [[Int32]]
    private var regionPending: [[Item]]

    static let unassigned: Int32 = -2

    /// Something to place at a level: a group's entry (which brings the group's spare once placed) or a
    /// deficit leaf.
    struct Item {
        enum Brings: UInt8 { case nothing, rack, zone, region }
        var node: Int32
        var brings: Brings
        var group: Int32
        var slots: Int32
        var rank: UInt64
        /// Whether the group holds the ledger (its zone or region): near the ledger, its link is the cheapest.
        var near = false

        /// Groups with spare first, the ledger's own group first among them, then the most spare, then entries
        /// before deficit leaves, then a seeded order.
        static func before(_ a: Item, _ b: Item) -> Bool {
            if (a.slots > 0) != (b.slots > 0) { return a.slots > 0 }
            if a.near != b.near { return a.near }
            if a.slots != b.slots { return a.slots > b.slots }
            let ae = a.brings != .nothing
            let be = b.brings != .nothing
            if ae != be { return ae }
            return a.rank < b.rank
        }
    }

    init(fleet: PlanningFleet, shape: Shape) {
        self.fleet = fleet
        self.shape = shape
        let n = fleet.count
        order = [Int32](repeating: 0, count: n)
        relayCount = [Int32](repeating: 0, count: fleet.rackCount)
        rackSlots = [Int32](repeating: 0, count: fleet.rackCount)
        rackDeficit = [Int32](repeating: 0, count: fleet.rackCount)
        rackAllow = [Int32](repeating: 0, count: 3 * fleet.rackCount)
        capLeft = [Int32](repeating: 0, count: n)
        tierUsed = [Int32](repeating: 0, count: 4 * n)
        parent = [Int32](repeating: Self.unassigned, count: n)
        let b = Double(fleet.topology.defaults.uplink.bitsPerSecond)
        sendTime = fleet.uplink.map { b / Double($0) }
        let empty = Item(node: 0, brings: .nothing, group: 0, slots: 0, rank: 0)
        zoneRoot = [Item](repeating: empty, count: fleet.zoneCount)
        zoneLeftover = [[Int32]](repeating: [], count: fleet.zoneCount)
        zonePending = [[Item]](repeating: [], count: fleet.zoneCount)
        regionRoot = [Item](repeating: empty, count: fleet.regionCount)
        regionLeftover = [[Int32]](repeating: [], count: fleet.regionCount)
        regionPending = [[Item]](repeating: [], count: fleet.regionCount)
    }

    private func rank(_ s: Int, _ level: UInt64, _ group: Int) -> UInt64 {
        PlanRandom.mix(fleet.seed, UInt64(s) << 8 | level, UInt64(group))
    }

    /// The parent array of stripe tree `s` (`-1` for the ledger), and whether every node found a parent
    /// (those that did not have `unassigned`).
    mutating func build(stripe s: Int, ledgerSlots: Int) -> (parents: [Int32], complete: Bool) {
        let n = fleet.count
        for t in 0..<n {
            parent[t] = Self.unassigned
            capLeft[t] = shape.home[t] == Int8(s) ? shape.capacity[t] : 0
        }
        for i in tierUsed.indices { tierUsed[i] = 0 }
        extRack.removeAll(keepingCapacity: true)
        extNode.removeAll(keepingCapacity: true)

        spanRacks(stripe: s)
        for z in 0..<fleet.zoneCount { placeZone(z, stripe: s) }
        for g in 0..<fleet.regionCount { placeRegion(g, stripe: s) }

        // The fleet: the ledger's slots for this stripe first, then the regions' spare.
        var items: [Item] = []
        for g in 0..<fleet.regionCount {
            items.append(regionRoot[g])
            items.append(contentsOf: regionPending[g])
        }
        var queue: [Int32] = []
        var ledger = min(ledgerSlots, shape.ledgerCapacity - ledgerUsed)
        _ = place(&items, queue: &queue, ledger: &ledger)

        concretizeRacks(stripe: s)
        let complete = fallback(stripe: s)
        return (parent, complete)
    }

    // MARK: 1. Racks

    private mutating func spanRacks(stripe s: Int) {
        let stripe = Int8(s)
        for r in 0..<fleet.rackCount {
            let lo = Int(fleet.rackStart[r])
            let hi = Int(fleet.rackStart[r + 1])
            var w = lo
            var capSum: Int32 = 0
            var inRack: Int32 = 0
            var allow: (Int32, Int32, Int32) = (0, 0, 0)
            for i in lo..<hi {
                let t = Int(fleet.members[i])
                guard shape.home[t] == stripe, shape.capacity[t] > 0 else { continue }
                order[w] = Int32(t)
                w += 1
                let c = shape.capacity[t]
                capSum += c
                inRack += min(c, fleet.fanTier[4 * t])
                allow.0 += min(c, fleet.fanTier[4 * t + 1])
                allow.1 += min(c, fleet.fanTier[4 * t + 2])
                allow.2 += min(c, fleet.fanTier[4 * t + 3])
            }
            relayCount[r] = Int32(w - lo)
            for i in lo..<hi {
                let t = Int(fleet.members[i])
                if !(shape.home[t] == stripe && shape.capacity[t] > 0) {
                    order[w] = Int32(t)
                    w += 1
                }
            }
            let inside = min(Int32(hi - lo - 1), inRack)
            rackDeficit[r] = Int32(hi - lo - 1) - inside
            rackSlots[r] = capSum - inside
            rackAllow[3 * r] = allow.0
            rackAllow[3 * r + 1] = allow.1
            rackAllow[3 * r + 2] = allow.2
        }
    }

    // MARK: 2. Zones, regions

    private mutating func placeZone(_ z: Int, stripe s: Int) {
        let racks = Int(fleet.zoneRacks[z])..<Int(fleet.zoneRacks[z + 1])
        var root = racks.lowerBound
        var rootRank = rank(s, 1, root)
        for r in racks.dropFirst() {
            let rk = rank(s, 1, r)
            if rackSlots[r] > rackSlots[root] || (rackSlots[r] == rackSlots[root] && rk < rootRank) {
                root = r
                rootRank = rk
            }
        }
        var items: [Item] = []
        for r in racks {
            let lo = Int(fleet.rackStart[r])
            let hi = Int(fleet.rackStart[r + 1])
            if r != root {
                items.append(Item(node: order[lo], brings: .rack, group: Int32(r), slots: rackSlots[r], rank: rank(s, 1, r)))
            }
            let d = Int(rackDeficit[r])
            for i in (hi - d)..<hi {
                items.append(Item(node: order[i], brings: .nothing, group: -1, slots: 0, rank: rank(s, 4, i)))
            }
        }
        var queue: [Int32] = rackSlots[root] > 0 ? [Int32(root)] : []
        var none = 0
        zonePending[z] = place(&items, queue: &queue, ledger: &none)
        zoneLeftover[z] = queue.filter { rackSlots[Int($0)] > 0 }
        let slots = zoneLeftover[z].reduce(Int32(0)) { $0 + rackSlots[Int($1)] }
        zoneRoot[z] = Item(
            node: order[Int(fleet.rackStart[root])], brings: .zone, group: Int32(z), slots: slots, rank: rank(s, 2, z),
            near: Int32(z) == fleet.ledgerZone)
    }

    private mutating func placeRegion(_ g: Int, stripe s: Int) {
        let zones = Int(fleet.regionZones[g])..<Int(fleet.regionZones[g + 1])
        var root = zones.lowerBound
        for z in zones.dropFirst() where Item.before(zoneRoot[z], zoneRoot[root]) { root = z }
        var items: [Item] = []
        for z in zones {
            if z != root { items.append(zoneRoot[z]) }
            items.append(contentsOf: zonePending[z])
        }
        var queue = zoneLeftover[root]
        var none = 0
        regionPending[g] = place(&items, queue: &queue, ledger: &none)
        regionLeftover[g] = queue.filter { rackSlots[Int($0)] > 0 }
        let slots = regionLeftover[g].reduce(Int32(0)) { $0 + rackSlots[Int($1)] }
        regionRoot[g] = Item(
            node: zoneRoot[root].node, brings: .region, group: Int32(g), slots: slots, rank: rank(s, 3, g),
            near: Int32(g) == fleet.ledgerRegion)
    }

    /// Places `items` (sorted here) on the ledger's slots, then on the spare of the racks in `queue`, breadth
    /// first; a placed entry appends the spare it brings. Returns what found no room.
    private mutating func place(_ items: inout [Item], queue: inout [Int32], ledger: inout Int) -> [Item] {
        items.sort(by: Item.before)
        var head = 0
        var pending: [Item] = []
        for item in items {
            var placed = false
            if ledger > 0 {
                parent[Int(item.node)] = -1
                ledger -= 1
                ledgerUsed += 1
                placed = true
            } else {
                while head < queue.count && rackSlots[Int(queue[head])] == 0 { head += 1 }
                let itemRack = fleet.rackOf[Int(item.node)]
                var j = head
                while j < queue.count && j < head + 64 {
                    let r = queue[j]
                    if rackSlots[Int(r)] > 0 && r != itemRack {
                        let a = 3 * Int(r) + fleet.tier(rack: r, rack: itemRack) - 1
                        if rackAllow[a] > 0 {
                            rackSlots[Int(r)] -= 1
                            rackAllow[a] -= 1
                            extRack.append(r)
                            extNode.append(item.node)
                            placed = true
                            break
                        }
                    }
                    j += 1
                }
            }
            guard placed else {
                pending.append(item)
                continue
            }
            switch item.brings {
            case .nothing: break
            case .rack: if rackSlots[Int(item.group)] > 0 { queue.append(item.group) }
            case .zone: queue.append(contentsOf: zoneLeftover[Int(item.group)])
            case .region: queue.append(contentsOf: regionLeftover[Int(item.group)])
            }
        }
        return pending
    }

    // MARK: 3. Concrete parents inside racks

    private mutating func concretizeRacks(stripe s: Int) {
        // External children of each rack, in the order they were assigned (hubs first).
        var extStart = [Int32](repeating: 0, count: fleet.rackCount + 1)
        for r in extRack { extStart[Int(r) + 1] += 1 }
        for r in 0..<fleet.rackCount { extStart[r + 1] += extStart[r] }
        var fill = extStart
        var ext = [Int32](repeating: 0, count: extNode.count)
        for (r, node) in zip(extRack, extNode) {
            ext[Int(fill[Int(r)])] = node
            fill[Int(r)] += 1
        }

        var slots = SlotHeap()
        var skipped: [SlotHeap.Slot] = []
        for r in 0..<fleet.rackCount {
            let a = Int(relayCount[r])
            guard a > 0 else { continue }
            let lo = Int(fleet.rackStart[r])
            let hi = Int(fleet.rackStart[r + 1]) - Int(rackDeficit[r])
            let rack = Int32(r)
            slots.removeAll()
            let entry = Int(order[lo])
            if capLeft[entry] > 0 { slots.push(time: sendTime[entry], node: Int32(entry)) }

            // Give `child` the earliest free send slot of a relay already in the rack's tree that may take it.
            func attach(_ child: Int32, _ me: inout StripeBuilder) {
                let ci = Int(child)
                let childRack = me.fleet.rackOf[ci]
                let tier = childRack == rack ? 0 : me.fleet.tier(rack: rack, rack: childRack)
                skipped.removeAll(keepingCapacity: true)
                defer { for slot in skipped { slots.push(slot) } }
                while let slot = slots.pop() {
                    let p = Int(slot.node)
                    guard me.tierUsed[4 * p + tier] < me.fleet.fanTier[4 * p + tier] else {
                        skipped.append(slot)
                        continue
                    }
                    me.parent[ci] = slot.node
                    me.capLeft[p] -= 1
                    me.tierUsed[4 * p + tier] += 1
                    if me.capLeft[p] > 0 { slots.push(time: slot.time + me.sendTime[p], node: slot.node) }
                    if childRack == rack && me.capLeft[ci] > 0 { slots.push(time: slot.time + me.sendTime[ci], node: child) }
                    return
                }
                // No relay may take it: left unassigned for the fallback.
            }

            // External children (whole racks below them) take the earliest slots; an in-rack relay goes in
            // whenever the rack's tree would otherwise run out of free slots, so it never starves.
            var e = Int(extStart[r])
            let eEnd = Int(extStart[r + 1])
            var j = lo + 1
            while j < lo + a || e < eEnd {
                if j < lo + a && (e >= eEnd || slots.count <= 1) {
                    attach(order[j], &self)
                    j += 1
                } else {
                    attach(ext[e], &self)
                    e += 1
                }
            }
            for i in (lo + a)..<max(lo + a, hi) { attach(order[i], &self) }
        }
    }

    // MARK: 4. Fallback

    private func connected(_ t: Int) -> Bool {
        var x = Int32(t)
        while x >= 0 { x = parent[Int(x)] }
        return x == -1
    }

    /// Gives every node still without a parent the nearest connected relay with room, or a spare ledger slot.
    /// Relays go first, so that their subtrees connect before the leaves look for room.
    private mutating func fallback(stripe s: Int) -> Bool {
        var waiting: [Int32] = []
        for t in 0..<fleet.count where parent[t] == Self.unassigned && capLeft[t] > 0 { waiting.append(Int32(t)) }
        for t in 0..<fleet.count where parent[t] == Self.unassigned && capLeft[t] == 0 { waiting.append(Int32(t)) }
        guard !waiting.isEmpty else { return true }
        var complete = true
        var exhausted = [Bool](repeating: false, count: fleet.rackCount)
        for u in waiting {
            let ui = Int(u)
            let ur = fleet.rackOf[ui]
            let uz = fleet.zoneOfRack[Int(ur)]
            let ug = fleet.regionOfZone[Int(uz)]
            var found = -1
            // Racks nearest first: u's own, its zone's, its region's, then the rest.
            func search(_ racks: some Sequence<Int>, _ me: inout StripeBuilder) -> Int {
                for r in racks where !exhausted[r] {
                    let lo = Int(me.fleet.rackStart[r])
                    let a = Int(me.relayCount[r])
                    var any = false
                    for i in lo..<(lo + a) {
                        let p = Int(me.order[i])
                        guard me.capLeft[p] > 0, p != ui else { continue }
                        any = true
                        let tier = me.fleet.tier(rack: Int32(r), rack: ur)
                        if me.tierUsed[4 * p + tier] < me.fleet.fanTier[4 * p + tier] && me.connected(p) { return p }
                    }
                    if !any { exhausted[r] = true }
                }
                return -1
            }
            let zoneRacks = Int(fleet.zoneRacks[Int(uz)])..<Int(fleet.zoneRacks[Int(uz) + 1])
            let regionRacks = Int(fleet.zoneRacks[Int(fleet.regionZones[Int(ug)])])..<Int(fleet.zoneRacks[Int(fleet.regionZones[Int(ug) + 1])])
            found = search([Int(ur)], &self)
            if found < 0 { found = search(zoneRacks, &self) }
            if found < 0 { found = search(regionRacks, &self) }
            if found < 0 { found = search(0..<fleet.rackCount, &self) }
            if found >= 0 {
                let tier = fleet.tier(rack: fleet.rackOf[found], rack: ur)
                parent[ui] = Int32(found)
                capLeft[found] -= 1
                tierUsed[4 * found + tier] += 1
            } else if ledgerUsed < shape.ledgerCapacity {
                parent[ui] = -1
                ledgerUsed += 1
            } else {
                complete = false
            }
        }
        return complete
    }
}

/// A binary min-heap of send slots ordered by (time, sequence): the next free slot of each relay in a rack.
struct SlotHeap {
    struct Slot {
        var time: Double
        var sequence: Int
        var node: Int32
    }

    private var items: [Slot] = []
    private var sequence = 0

    var count: Int { items.count }

    mutating func removeAll() {
        items.removeAll(keepingCapacity: true)
        sequence = 0
    }

    mutating func push(time: Double, node: Int32) {
        sequence += 1
        push(Slot(time: time, sequence: sequence, node: node))
    }

    mutating func push(_ slot: Slot) {
        items.append(slot)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard Self.less(items[i], items[p]) else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> Slot? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < items.count && Self.less(items[l], items[m]) { m = l }
                if r < items.count && Self.less(items[r], items[m]) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }

    private static func less(_ a: Slot, _ b: Slot) -> Bool {
        a.time != b.time ? a.time < b.time : a.sequence < b.sequence
    }
}
