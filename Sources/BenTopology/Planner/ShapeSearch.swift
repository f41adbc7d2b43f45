import BenCore

/// Chooses the plan's shape: k stripe trees and the nominal fan-out m.
///
/// For each candidate (k, m) it works out, without building any tree, what each rack could do in each stripe
/// (its relays' capacity against its size: its spare for other racks, or its deficit), then:
/// - whether every stripe has a parent slot for every node (feasibility);
/// - how many extra rack entries the shape forces (deficits: the bytes a rack receives more than once);
/// - how deep the hub structure over racks, zones and regions would be;
/// and from these a predicted completion S·m/(k·B) + ((m+1)/2·(skeleton depth + log_m(rack)) + m)·c/B: the
/// stream, then a chunk's way down, at about (m+1)/2 sends per hop (a relay sends each chunk to its m children
/// one after another) and m for the last.
/// Shapes that keep racks to about one entry per stripe come first; among them, the fastest.
struct ShapeSearch {
    let fleet: PlanningFleet
    let chunkSize: Double
    let bundleSize: Double
    /// B: the fleet's nominal uplink, in bits per second.
    let reference: Int64
    let bytesPerSecond: Double
    /// The widest nominal fan-out worth trying: past it, every node's capacity is its fan-out limit.
    let widest: Int
    let largestRack: Int

    /// Average extra entries per rack and stripe a shape may force and still count as keeping racks to one
    /// entry (rack ingress about 1.1 × S).
    static let acceptableExtraEntries = 0.1

    init(fleet: PlanningFleet, chunkSize: Int64, bundleSize: Int64) {
        self.fleet = fleet
        self.chunkSize = Double(chunkSize)
        self.bundleSize = Double(max(bundleSize, chunkSize))
        let topology = fleet.topology
        reference = topology.defaults.uplink.bitsPerSecond
        bytesPerSecond = Double(reference) / 8
        var widest = 1
        for t in 0..<fleet.count where fleet.duty[t] != .never {
            let needed = (Int64(fleet.fanTotal[t]) * reference + fleet.uplink[t] - 1) / fleet.uplink[t]
            widest = max(widest, Int(min(needed, 1024)))
        }
        let ledger = topology.ledgerUplink.bitsPerSecond
        widest = max(widest, Int(min((Int64(topology.ledgerMaxFanOut) * reference + ledger - 1) / ledger, 1024)))
        self.widest = widest
        var largest = 1
        for r in 0..<fleet.rackCount { largest = max(largest, Int(fleet.rackStart[r + 1] - fleet.rackStart[r])) }
        largestRack = largest
    }

    func ledgerCapacity(m: Int) -> Int {
        let t = fleet.topology
        return Int(min(Int64(t.ledgerMaxFanOut), Int64(m) * t.ledgerUplink.bitsPerSecond / reference))
    }

    /// Per-target capacity and relay stripe for (k, m), and the ledger slots each stripe needs.
    ///
    /// Inside a rack the relays take the stripes round-robin, so every stripe gets ⌊n/k⌋ or ⌈n/k⌉ of them; the
    /// round starts at the stripe with the least capacity so far over the fleet, which balances the stripes
    /// and rotates which stripe gets a rack's extra relays (making the rack a hub there) from rack to rack.
    func shape(k: Int, m: Int) -> Shape {
        let n = fleet.count
        var capacity = [Int32](repeating: 0, count: n)
        for t in 0..<n { capacity[t] = fleet.capacity(t, nominalFanOut: m, reference: reference) }
        var home = [Int8](repeating: -1, count: n)
        var stripeCapacity = [Int](repeating: 0, count: k)
        for r in 0..<fleet.rackCount {
            let rotation = Int(PlanRandom.mix(fleet.seed, 0xAA, UInt64(fleet.topologyRack[r])) % UInt64(k))
            var start = rotation
            for step in 0..<k {
                let s = (rotation + step) % k
                if stripeCapacity[s] < stripeCapacity[start] { start = s }
            }
            var next = start
            for i in Int(fleet.rackStart[r])..<Int(fleet.rackStart[r + 1]) {
                let t = Int(fleet.members[i])
                let c = Int(capacity[t])
                guard c > 0 else { continue }
                home[t] = Int8(next)
                stripeCapacity[next] += c
                next = next + 1 == k ? 0 : next + 1
            }
        }
        let slots = stripeCapacity.map { max(1, n - $0) }
        return Shape(k: k, m: m, capacity: capacity, home: home, ledgerCapacity: ledgerCapacity(m: m), ledgerSlots: slots)
    }

    func isFeasible(_ shape: Shape) -> Bool {
        shape.ledgerCapacity >= shape.k && shape.ledgerSlots.reduce(0, +) <= shape.ledgerCapacity
    }

    /// The smallest nominal fan-out the planner uses: with 1, a stripe tree would be a chain, as deep as the
    /// fleet is large (one slow or failed node would hold up everyone after it).
    static let narrowest = 2

    /// The smallest m (at least `narrowest`) whose capacity suffices for k stripes, or nil. Capacity grows
    /// with m, so this steps up 2, 3, 5, 9, … and then bisects back to the smallest that suffices.
    func smallestFeasibleFanOut(k: Int) -> Int? {
        var low = Self.narrowest - 1
        var step = 1
        var high: Int?
        while low < widest {
            let m = min(low + step, widest)
            if isFeasible(shape(k: k, m: m)) {
                high = m
                break
            }
            low = m
            step *= 2
        }
        guard var h = high else { return nil }
        while h - low > 1 {
            let mid = (low + h) / 2
            if isFeasible(shape(k: k, m: mid)) { h = mid } else { low = mid }
        }
        return h
    }

    struct Candidate {
        var shape: Shape
        var extraEntries: Double
        var skeletonDepth: Int
        var estimate: Double

        var acceptable: Bool { extraEntries <= ShapeSearch.acceptableExtraEntries }

        static func before(_ a: Candidate, _ b: Candidate) -> Bool {
            if a.acceptable != b.acceptable { return a.acceptable }
            if !a.acceptable && a.extraEntries != b.extraEntries { return a.extraEntries < b.extraEntries }
            if a.estimate != b.estimate { return a.estimate < b.estimate }
            return (a.shape.k, a.shape.m) < (b.shape.k, b.shape.m)
        }
    }

    /// Feasible shapes for these k, best first.
    func candidates(stripes: [Int], widerBy extra: Int = 3) -> [Candidate] {
        var out: [Candidate] = []
        for k in stripes {
            guard let m0 = smallestFeasibleFanOut(k: k) else { continue }
            for m in m0...min(widest, m0 + extra) {
                let shape = shape(k: k, m: m)
                guard isFeasible(shape) else { continue }
                out.append(profile(shape))
            }
        }
        return out.sorted(by: Candidate.before)
    }

    /// Predicted completion of a shape in seconds (see the type's documentation).
    func estimate(k: Int, m: Int, skeletonDepth: Int) -> Double {
        let rackDepth = m >= 2 ? (naturalLog(Double(largestRack)) / naturalLog(Double(m))).rounded(.up) : Double(largestRack)
        let hops = Double(m + 1) / 2 * (Double(skeletonDepth) + rackDepth) + Double(m)
        return bundleSize * Double(m) / (Double(k) * bytesPerSecond) + hops * chunkSize / bytesPerSecond
    }

    /// What a shape does to racks: extra entries it forces, and the depth of its hub structure.
    func profile(_ shape: Shape) -> Candidate {
        let k = shape.k
        let racks = fleet.rackCount
        var spare = [Int32](repeating: 0, count: racks * k)
        var deficit = [Int32](repeating: 0, count: racks * k)
        var capSum = [Int32](repeating: 0, count: k)
        var inRack = [Int32](repeating: 0, count: k)
        var totalDeficit = 0
        for r in 0..<racks {
            for s in 0..<k {
                capSum[s] = 0
                inRack[s] = 0
            }
            let lo = Int(fleet.rackStart[r])
            let hi = Int(fleet.rackStart[r + 1])
            for t in lo..<hi where shape.home[t] >= 0 {
                let s = Int(shape.home[t])
                let c = shape.capacity[t]
                capSum[s] += c
                inRack[s] += min(c, fleet.fanTier[4 * t])
            }
            let needed = Int32(hi - lo - 1)
            for s in 0..<k {
                let inside = min(needed, inRack[s])
                deficit[s * racks + r] = needed - inside
                spare[s * racks + r] = capSum[s] - inside
                totalDeficit += Int(needed - inside)
            }
        }
        var depth = 0
        for s in 0..<k {
            var zoneLeftover = [Int32](repeating: 0, count: fleet.zoneCount)
            var zonePending = [Int32](repeating: 0, count: fleet.zoneCount)
            var zoneLevels = 0
            for z in 0..<fleet.zoneCount {
                let members = Int(fleet.zoneRacks[z])..<Int(fleet.zoneRacks[z + 1])
                let spares = members.map { spare[s * racks + $0] }
                let leaves = members.reduce(Int32(0)) { $0 + deficit[s * racks + $1] }
                let level = Self.levels(spares, extra: leaves)
                zoneLevels = max(zoneLevels, level.levels)
                zoneLeftover[z] = level.leftover
                zonePending[z] = level.pending
            }
            var regionLeftover: [Int32] = []
            var pending: Int32 = 0
            var regionLevels = 0
            for g in 0..<fleet.regionCount {
                let members = Int(fleet.regionZones[g])..<Int(fleet.regionZones[g + 1])
                let level = Self.levels(members.map { zoneLeftover[$0] }, extra: members.reduce(Int32(0)) { $0 + zonePending[$1] })
                regionLevels = max(regionLevels, level.levels)
                regionLeftover.append(level.leftover)
                pending += level.pending
            }
            let top = Self.levels([Int32(shape.ledgerSlots[s])] + regionLeftover, extra: pending, rootIsGroup: false)
            depth = max(depth, zoneLevels + regionLevels + top.levels)
        }
        let extra = Double(totalDeficit) / Double(max(1, racks * k))
        return Candidate(
            shape: shape, extraEntries: extra, skeletonDepth: depth,
            estimate: estimate(k: k, m: shape.m, skeletonDepth: depth))
    }

    /// Breadth-first levels needed to connect groups with these spare slots (the one with most spare is the
    /// root), then `extra` single nodes; and the slots left over and the items that found none.
    static func levels(_ spares: [Int32], extra: Int32, rootIsGroup: Bool = true) -> (levels: Int, leftover: Int32, pending: Int32) {
        guard !spares.isEmpty else { return (0, 0, extra) }
        var sorted = spares
        if rootIsGroup {
            sorted.sort(by: >)
        } else {
            sorted[1...].sort(by: >)
        }
        var slots = max(0, sorted[0])
        var next = 1
        var levels = 0
        while next < sorted.count && slots > 0 {
            levels += 1
            let take = min(Int(slots), sorted.count - next)
            var added: Int32 = 0
            for j in next..<(next + take) { added += max(0, sorted[j]) }
            next += take
            slots = slots - Int32(take) + added
        }
        let placed = min(slots, extra)
        if placed > 0 && levels == 0 { levels = 1 }
        return (levels, slots - placed, Int32(sorted.count - next) + extra - placed)
    }
}
