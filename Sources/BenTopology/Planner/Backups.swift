/// Chooses each node's backups: nodes that can serve it chunks when its parents fail or serve a tampered
/// chunk, and that it can re-parent under.
///
/// A backup must not be the node's ancestor in any stripe tree (a failed or lying ancestor would take the
/// backup down with it) nor its descendant (a descendant gets that stripe through the node itself). Among
/// those, nearer is better: the node's own rack, then its zone, then its region, then anywhere, each rack
/// scanned from a seeded offset so backup duty spreads over the rack.
enum Backups {
    static func choose(fleet: PlanningFleet, stripes: [[Int32]], count: Int) -> [[Int32]] {
        let n = fleet.count
        guard count > 0, n > 1 else { return [[Int32]](repeating: [], count: n) }
        let forest = Forest(stripes: stripes)
        var out = [[Int32]](repeating: [], count: n)
        let racks = fleet.rackCount
        for t in 0..<n {
            var chosen: [Int32] = []
            chosen.reserveCapacity(count)
            let offset = PlanRandom.mix(fleet.seed, 0xBB, UInt64(t))
            // Scans the targets of one rack from a seeded offset; false once `count` backups are chosen.
            func scan(rack r: Int) -> Bool {
                let lo = Int(fleet.rackStart[r])
                let size = Int(fleet.rackStart[r + 1]) - lo
                let start = Int(offset % UInt64(size))
                for j in 0..<size {
                    let b = lo + (start + j) % size
                    if b != t && !forest.related(t, b) {
                        chosen.append(Int32(b))
                        if chosen.count == count { return false }
                    }
                }
                return true
            }
            // Nearest first: the node's rack, the other racks of its zone, of its region, then the rest, each
            // going round from the node's own rack. Nodes high in a stripe tree have few eligible backups (a
            // stripe's root has none), so the scan goes as far as it must.
            let r = Int(fleet.rackOf[t])
            let z = Int(fleet.zoneOfRack[r])
            let g = Int(fleet.regionOfZone[z])
            let zoneRacks = Int(fleet.zoneRacks[z])..<Int(fleet.zoneRacks[z + 1])
            let regionRacks = Int(fleet.zoneRacks[Int(fleet.regionZones[g])])..<Int(fleet.zoneRacks[Int(fleet.regionZones[g + 1])])
            var going = scan(rack: r)
            for step in 1..<max(1, zoneRacks.count) where going {
                going = scan(rack: zoneRacks.lowerBound + (r - zoneRacks.lowerBound + step) % zoneRacks.count)
            }
            for step in 1..<max(1, regionRacks.count) where going {
                let other = regionRacks.lowerBound + (r - regionRacks.lowerBound + step) % regionRacks.count
                if !zoneRacks.contains(other) { going = scan(rack: other) }
            }
            for step in 1..<max(1, racks) where going {
                let other = (r + step) % racks
                if !regionRacks.contains(other) { going = scan(rack: other) }
            }
            out[t] = chosen
        }
        return out
    }
}

/// Pre-order numbers and subtree sizes of every stripe tree, so "is a an ancestor of b" is two comparisons.
struct Forest {
    let count: Int
    let stripes: Int
    /// `pre[s * count + i]`, `size[s * count + i]`.
    private(set) var pre: [Int32]
    private(set) var size: [Int32]

    init(stripes parents: [[Int32]]) {
        let n = parents.first?.count ?? 0
        count = n
        stripes = parents.count
        pre = [Int32](repeating: 0, count: n * parents.count)
        size = [Int32](repeating: 1, count: n * parents.count)
        for (s, tree) in parents.enumerated() {
            let children = ChildLists(parents: tree)
            var clock: Int32 = 0
            var stack: [Int32] = Array(children.ofLedger.reversed())
            var order: [Int32] = []
            order.reserveCapacity(n)
            while let x = stack.popLast() {
                pre[s * n + Int(x)] = clock
                clock += 1
                order.append(x)
                let kids = children.of(Int(x))
                for c in kids.reversed() { stack.append(c) }
            }
            for x in order.reversed() {
                let p = tree[Int(x)]
                if p >= 0 { size[s * n + Int(p)] += size[s * n + Int(x)] }
            }
        }
    }

    /// Whether a is an ancestor or a descendant of b (or b itself) in some stripe tree.
    func related(_ a: Int, _ b: Int) -> Bool {
        for s in 0..<stripes {
            let pa = pre[s * count + a]
            let pb = pre[s * count + b]
            if pa <= pb && pb < pa + size[s * count + a] { return true }
            if pb <= pa && pa < pb + size[s * count + b] { return true }
        }
        return false
    }
}

/// Children of every node in one tree given by a parent array, as one flat array (CSR), in index order.
struct ChildLists {
    /// `children[start[i]..<start[i + 1]]` for node i; the ledger's are at index `count`.
    let start: [Int32]
    let children: [Int32]

    init(parents: [Int32]) {
        let n = parents.count
        var start = [Int32](repeating: 0, count: n + 2)
        for p in parents {
            let slot = p < 0 ? n : Int(p)
            start[slot + 1] += 1
        }
        for i in 0...n { start[i + 1] += start[i] }
        var fill = start
        var children = [Int32](repeating: 0, count: n)
        for (i, p) in parents.enumerated() {
            let slot = p < 0 ? n : Int(p)
            children[Int(fill[slot])] = Int32(i)
            fill[slot] += 1
        }
        self.start = start
        self.children = children
    }

    func of(_ i: Int) -> ArraySlice<Int32> { children[Int(start[i])..<Int(start[i + 1])] }
    var ofLedger: ArraySlice<Int32> { of(start.count - 2) }
    func count(of i: Int) -> Int { Int(start[i + 1] - start[i]) }
}
