import BenTopology
import HeapModule

/// The flow engine for tree strategies (ben-tree, star, broker, binary tree, chain): a discrete-event model of
/// chunks flowing down k trees under DESIGN §8's bandwidth model, exact at chunk level, for 10^5 to 10^6 nodes.
///
/// ## The model
///
/// - Each node's upload is capped at its uplink. A sender divides it among its live children's links (max-min
///   fair over the links' own bandwidth caps, like TCP flows sharing a NIC), and each link carries its chunks
///   in order: chunk q starts on the link when the previous one has left and the sender holds q (cut-through:
///   a relay forwards chunk q while it receives q+1), takes size ÷ share, and arrives one link latency later.
///   Shares are recomputed when a sender's children change (a death, an adoption).
/// - A relay forwards in exactly one tree (the planner guarantees it); the ledger holds every chunk at time 0.
/// - Faults follow the agent machine's timers: a parent learns a child is dead `detection` after it died (or,
///   for a node down from the start, after it first tried it) and adopts its children, which then resume from
///   what they hold (DESIGN §3 step 9). A node with no live parent in a tree it still needs — never contacted,
///   or cut off by a partition — pulls from the ledger's store after `orphanAfter` (or `stallAfter` after a
///   partition), and acks straight to the ledger (step 10). A partitioned zone exchanges nothing with the rest.
///
/// ## Why it is fast
///
/// Links are independent once shares are fixed, so chunk arrivals obey a max-plus recurrence that can be
/// computed in any order that respects each link's chunk order. The engine pushes each chunk depth-first down
/// its tree with an explicit stack (no event per chunk, no allocation per chunk); the event heap holds only
/// faults and timers, and no link is advanced past the next one (the horizon), so a fault sees exactly the
/// state of its time. A relay whose children lag keeps the arrival times they still need as arithmetic runs,
/// which stay few. State is structure-of-arrays (`Column`), a few hundred bytes per node.
final class FlowEngine {
    struct Settings {
        var compile: Double = 0
        var detection: Double = 1.5
        var orphanAfter: Double = 10
        var stallAfter: Double = 10
    }

    struct Delivery {
        var edge: Int32
        var q: Int32
        var arrival: Double
    }

    enum EventKind: UInt8 {
        case kill, adopt, partition, pullCheck
    }

    struct Event: Comparable {
        var time: Double
        var seq: UInt64
        var kind: EventKind
        var a: Int32
        var b: Int32
        var stripe: Int32

        static func < (x: Event, y: Event) -> Bool { (x.time, x.seq) < (y.time, y.seq) }
        static func == (x: Event, y: Event) -> Bool { x.seq == y.seq }
    }

    // Inputs.
    let fleet: SimFleet
    let forest: Forest
    let faults: RunFaults
    let settings: Settings
    let n: Int
    let fleetCount: Int
    let k: Int
    let chunkCount: Int
    let chunkSize: Double
    let lastChunkSize: Double
    let stripeChunks: [Int32]
    let ledger: Int

    // Nodes (fleet, then the ledger, then the hub).
    var uplink: Column<Double>
    var deadAt: Column<Double>
    var rackOf: Column<Int32>
    var zoneOf: Column<Int32>
    var regionOf: Column<Int32>
    var isSource: Column<Bool>
    var relayStripe: Column<Int32>
    var recv: Column<Int32>  // n × k
    var feeder: Column<Int32>  // n × k
    var total: Column<Int32>
    var lastArrival: Column<Double>
    var done: Column<Double>
    var contacted: Column<Double>
    var egress: Column<Int64>
    var outStart: Column<Int32>
    var outCount: Column<Int32>
    var outList: Column<Int32>
    var pulled: Column<Bool>
    var orphan: Column<Bool>
    // Arrival runs a relay keeps for children that lag: a linked list of segments per node.
    var storeHead: Column<Int32>
    var storeTail: Column<Int32>
    var storeBase: Column<Int32>
    var segT0: Column<Double>
    var segStep: Column<Double>
    var segFirst: Column<Int32>
    var segCount: Column<Int32>
    var segNext: Column<Int32>
    var segFree: Int32 = -1

    // Links.
    var eFrom: Column<Int32>
    var eTo: Column<Int32>
    var eStripe: Column<Int32>
    var eTier: Column<UInt8>
    var eAlive: Column<Bool>
    var eBlocked: Column<Bool>
    var eCursor: Column<Int32>
    var eFree: Column<Double>
    var eRate: Column<Double>
    var eLatency: Column<Double>
    var eCap: Column<Double>

    var stack: Column<Delivery>
    var scratch: Column<Delivery>
    var blocked: Column<Int32>
    var heap = Heap<Event>()
    var sequence: UInt64 = 0
    var horizon = Double.infinity
    var now = 0.0
    var partitionActive = false

    // Figures.
    var tierBytes = [Int64](repeating: 0, count: 4)
    var duplicatedBytes: Int64 = 0
    var receivedBytes: Int64 = 0
    var deliveries: Int64 = 0
    var events: Int64 = 0
    var adoptions = 0
    /// Told the fraction of chunk deliveries done (of N × chunks) every 2^22 deliveries, for a progress display.
    var progress: ((Double) -> Void)?

    init(fleet: SimFleet, forest: Forest, faults: RunFaults, settings: Settings, bundleSize: Int64, chunkSize: Int64, hubUplink: Double) {
        self.fleet = fleet
        self.forest = forest
        self.faults = faults
        self.settings = settings
        n = forest.nodeCount
        fleetCount = forest.fleetCount
        k = forest.k
        chunkCount = Int((bundleSize + chunkSize - 1) / chunkSize)
        self.chunkSize = Double(chunkSize)
        lastChunkSize = Double(bundleSize - Int64(chunkCount - 1) * chunkSize)
        let chunks = Int((bundleSize + chunkSize - 1) / chunkSize)
        stripeChunks = (0..<forest.k).map { s in Int32(chunks / forest.k + (s < chunks % forest.k ? 1 : 0)) }
        ledger = forest.ledger

        let ledgerZone = Int32(fleet.topology.ledger.zone)
        let ledgerRegion = Int32(fleet.topology.ledger.region)
        var up = zip(fleet.uplink, faults.uplinkFactor).map { $0 * $1 }
        up.append(fleet.ledgerUplink)
        if forest.hasHub { up.append(hubUplink) }
        uplink = Column(up)
        var dead = faults.deadAt
        dead.append(contentsOf: repeatElement(.infinity, count: n - fleetCount))
        deadAt = Column(dead)
        rackOf = Column(fleet.rack + repeatElement(-1, count: n - fleetCount))
        zoneOf = Column(fleet.zone + repeatElement(ledgerZone, count: n - fleetCount))
        regionOf = Column(fleet.region + repeatElement(ledgerRegion, count: n - fleetCount))
        isSource = Column(repeating: false, count: n)
        relayStripe = Column(repeating: -1, count: n)
        recv = Column(repeating: 0, count: n * forest.k)
        feeder = Column(repeating: -1, count: n * forest.k)
        total = Column(repeating: 0, count: n)
        lastArrival = Column(repeating: 0, count: n)
        done = Column(repeating: .infinity, count: n)
        contacted = Column(repeating: .infinity, count: n)
        egress = Column(repeating: 0, count: n)
        outStart = Column(repeating: 0, count: n)
        outCount = Column(repeating: 0, count: n)
        outList = Column(repeating: 0, count: 0)
        pulled = Column(repeating: false, count: n)
        orphan = Column(repeating: false, count: n)
        storeHead = Column(repeating: -1, count: n)
        storeTail = Column(repeating: -1, count: n)
        storeBase = Column(repeating: 0, count: n)
        segT0 = Column(repeating: 0, count: 0)
        segStep = Column(repeating: 0, count: 0)
        segFirst = Column(repeating: 0, count: 0)
        segCount = Column(repeating: 0, count: 0)
        segNext = Column(repeating: -1, count: 0)
        eFrom = Column(repeating: 0, count: 0)
        eTo = Column(repeating: 0, count: 0)
        eStripe = Column(repeating: 0, count: 0)
        eTier = Column(repeating: 0, count: 0)
        eAlive = Column(repeating: true, count: 0)
        eBlocked = Column(repeating: false, count: 0)
        eCursor = Column(repeating: 0, count: 0)
        eFree = Column(repeating: 0, count: 0)
        eRate = Column(repeating: 0, count: 0)
        eLatency = Column(repeating: 0, count: 0)
        eCap = Column(repeating: 0, count: 0)
        stack = Column(repeating: Delivery(edge: 0, q: 0, arrival: 0), count: 0)
        scratch = Column(repeating: Delivery(edge: 0, q: 0, arrival: 0), count: 0)
        blocked = Column(repeating: 0, count: 0)
    }

    deinit {
        for c in [uplink, deadAt, lastArrival, done, contacted, segT0, segStep, eFree, eRate, eLatency, eCap] { c.free() }
        for c in [rackOf, zoneOf, regionOf, relayStripe, recv, feeder, total, outStart, outCount, outList, storeHead, storeTail, storeBase,
            segFirst, segCount, segNext, eFrom, eTo, eStripe, eCursor, blocked] { c.free() }
        for c in [isSource, pulled, orphan, eAlive, eBlocked] { c.free() }
        egress.free()
        eTier.free()
        stack.free()
        scratch.free()
    }

    /// Bytes of engine state per simulated node (what the ≤ 1 KiB goal counts).
    var stateBytes: Int {
        let doubles = [uplink, deadAt, lastArrival, done, contacted, segT0, segStep, eFree, eRate, eLatency, eCap].reduce(0) { $0 + $1.bytes }
        let ints = [rackOf, zoneOf, regionOf, relayStripe, recv, feeder, total, outStart, outCount, outList, storeHead, storeTail, storeBase,
            segFirst, segCount, segNext, eFrom, eTo, eStripe, eCursor, blocked].reduce(0) { $0 + $1.bytes }
        let bools = [isSource, pulled, orphan, eAlive, eBlocked].reduce(0) { $0 + $1.bytes }
        return doubles + ints + bools + egress.bytes + eTier.bytes + stack.bytes + scratch.bytes
    }

    // MARK: Setup

    /// Builds links from the forest. Throws when a node other than a source forwards in two trees.
    func build() throws(SimError) {
        for v in 0..<n where (0..<k).allSatisfy({ forest.parents[$0][v] == -1 }) { isSource[v] = true }
        var counts = [Int32](repeating: 0, count: n)
        for s in 0..<k {
            for v in 0..<n {
                let p = Int(forest.parents[s][v])
                guard p >= 0 else { continue }
                counts[p] += 1
                if !isSource[p] {
                    if relayStripe[p] == -1 {
                        relayStripe[p] = Int32(s)
                    } else if relayStripe[p] != Int32(s) {
                        throw SimError(.invalidValue, problem: "node \(p) forwards in trees \(relayStripe[p]) and \(s); the flow engine needs one tree per relay", fix: "use a plan from the planner")
                    }
                }
            }
        }
        var start: Int32 = 0
        for v in 0..<n {
            outStart[v] = start
            start += counts[v]
        }
        outList.reserve(Int(start) + 16)
        for _ in 0..<Int(start) { outList.append(0) }
        var filled = [Int32](repeating: 0, count: n)
        for s in 0..<k {
            for v in 0..<n {
                let p = Int(forest.parents[s][v])
                guard p >= 0 else { continue }
                let e = addEdge(from: p, to: v, stripe: s)
                outList[Int(outStart[p] + filled[p])] = e
                filled[p] += 1
                feeder[v * k + s] = e
            }
        }
        for v in 0..<n { outCount[v] = filled[v] }
        for v in 0..<n where outCount[v] > 0 { computeShares(v) }
        computeContacts()
    }

    func addEdge(from p: Int, to v: Int, stripe s: Int) -> Int32 {
        let (tier, cap, latency) = fleet.link(
            fromRack: rackOf[p], zone: zoneOf[p], region: regionOf[p], toRack: rackOf[v], zone: zoneOf[v], region: regionOf[v])
        let e = Int32(eFrom.count)
        eFrom.append(Int32(p))
        eTo.append(Int32(v))
        eStripe.append(Int32(s))
        eTier.append(UInt8(tier.rawValue))
        eAlive.append(true)
        eBlocked.append(false)
        eCursor.append(recv[v * k + s])
        eFree.append(0)
        eRate.append(1)
        eLatency.append(latency)
        eCap.append(cap)
        return e
    }

    /// Divides a sender's uplink among its live links, max-min fair over their caps.
    func computeShares(_ u: Int) {
        var caps: [(Double, Int32)] = []
        let start = Int(outStart[u])
        for i in start..<start + Int(outCount[u]) {
            let e = outList[i]
            if eAlive[Int(e)] { caps.append((eCap[Int(e)], e)) }
        }
        guard !caps.isEmpty else { return }
        var remaining = uplink[u]
        let even = remaining / Double(caps.count)
        if caps.allSatisfy({ $0.0 >= even }) {
            for (_, e) in caps { eRate[Int(e)] = even }
            return
        }
        caps.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        for (i, (cap, e)) in caps.enumerated() {
            let share = remaining / Double(caps.count - i)
            let rate = min(cap, share)
            eRate[Int(e)] = rate
            remaining -= rate
        }
    }

    /// Whether a link between positions a and b is cut by the partition at time t.
    @inline(__always)
    func isCut(_ a: Int, _ b: Int, at t: Double) -> Bool {
        guard faults.partitionZone >= 0, t >= faults.partitionAt else { return false }
        return (zoneOf[a] == faults.partitionZone) != (zoneOf[b] == faults.partitionZone)
    }

    /// When each node is first reached by a parent (HELLO and accept: about three one-way latencies after the
    /// parent itself was reached), and when its links may start sending.
    func computeContacts() {
        contacted[ledger] = 0
        var changed = true
        var rounds = 0
        let orders = (0..<k).map { StripeOrder(parents: forest.parents[$0], count: n).order }
        while changed && rounds < k + 2 {
            changed = false
            rounds += 1
            for s in 0..<k {
                for v in orders[s] {
                    let p = Int(forest.parents[s][Int(v)])
                    guard p >= 0 else { continue }
                    let e = Int(feeder[Int(v) * k + s])
                    let t = contacted[p] + 3 * eLatency[e]
                    guard t.isFinite, t < deadAt[p], t < deadAt[Int(v)], !isCut(p, Int(v), at: t) else { continue }
                    if t < contacted[Int(v)] {
                        contacted[Int(v)] = t
                        changed = true
                    }
                }
            }
        }
        for e in 0..<eFrom.count {
            let p = Int(eFrom[e])
            let v = Int(eTo[e])
            eFree[e] = contacted[p] + 3 * eLatency[e]
            if eFree[e].isFinite && (deadAt[v] <= eFree[e] || deadAt[p] <= eFree[e]) {
                eAlive[e] = false
                // The parent tries, retries, then adopts the dead child's children.
                if eFree[e].isFinite && deadAt[p] > eFree[e] + settings.detection {
                    schedule(eFree[e] + settings.detection, .adopt, Int32(p), Int32(v), Int32(eStripe[e]))
                }
            }
        }
        for v in 0..<n where isSource[v] { for s in 0..<k { recv[v * k + s] = stripeChunks[s] } }
    }

    func schedule(_ time: Double, _ kind: EventKind, _ a: Int32, _ b: Int32, _ stripe: Int32) {
        sequence += 1
        heap.insert(Event(time: time, seq: sequence, kind: kind, a: a, b: b, stripe: stripe))
    }

    // MARK: Running

    func run() throws(SimError) {
        try build()
        for (v, at) in faults.killed where Int(v) < fleetCount { schedule(at, .kill, v, 0, 0) }
        if faults.partitionZone >= 0 {
            schedule(faults.partitionAt, .partition, 0, 0, 0)
            schedule(faults.partitionAt + settings.stallAfter, .pullCheck, 0, 0, 0)
        }
        schedule(settings.orphanAfter, .pullCheck, 0, 0, 0)
        horizon = heap.min?.time ?? .infinity
        for v in 0..<n where isSource[v] {
            let start = Int(outStart[v])
            for i in start..<start + Int(outCount[v]) {
                resume(Int(outList[i]))
                drain()
            }
        }
        while let event = heap.popMin() {
            events += 1
            now = event.time
            handle(event)
            horizon = heap.min?.time ?? .infinity
            resumeBlocked()
        }
        for v in 0..<n where total[v] == Int32(chunkCount) && done[v].isInfinite { done[v] = lastArrival[v] + settings.compile }
    }

    func resumeBlocked() {
        guard !blocked.isEmpty else { return }
        let list = blocked.toArray()
        blocked.removeAll()
        for e in list { eBlocked[Int(e)] = false }
        for e in list {
            resume(Int(e))
            drain()
        }
        var senders = Set<Int32>()
        for e in list { senders.insert(eFrom[Int(e)]) }
        for u in senders.sorted() { prune(Int(u)) }
    }

    /// Pops deliveries until the stack is empty: each one lands at its node, which forwards it at once on every
    /// link of its tree that is caught up.
    @inline(__always)
    func drain() {
        while !stack.isEmpty {
            let d = stack.removeLast()
            deliver(d)
        }
    }

    @inline(__always)
    func size(stripe s: Int, q: Int32) -> Double {
        Int(q) * k + s == chunkCount - 1 ? lastChunkSize : chunkSize
    }

    func deliver(_ d: Delivery) {
        let e = Int(d.edge)
        let v = Int(eTo[e])
        let s = Int(eStripe[e])
        let slot = v * k + s
        deliveries += 1
        if deliveries & 0x3F_FFFF == 0, let progress { progress(Double(deliveries) / (Double(fleetCount) * Double(chunkCount))) }
        guard feeder[slot] == d.edge, d.arrival < deadAt[v] else { return }
        let sz = size(stripe: s, q: d.q)
        guard recv[slot] == d.q else {
            if d.q < recv[slot] { duplicatedBytes += Int64(sz) }
            return
        }
        recv[slot] = d.q + 1
        total[v] += 1
        receivedBytes += Int64(sz)
        if d.arrival > lastArrival[v] { lastArrival[v] = d.arrival }
        if total[v] == Int32(chunkCount) { done[v] = lastArrival[v] + settings.compile }
        guard relayStripe[v] == Int32(s), outCount[v] > 0 else { return }
        forward(v, d.q, d.arrival)
    }

    /// Node v holds chunk q of its relay tree since `arrival`: send it on every caught-up link, and keep its
    /// arrival time while some link lags.
    func forward(_ v: Int, _ q: Int32, _ arrival: Double) {
        let start = Int(outStart[v])
        let end = start + Int(outCount[v])
        var lagging = storeHead[v] >= 0
        for i in start..<end {
            let e = Int(outList[i])
            guard eAlive[e] else { continue }
            if eCursor[e] == q && !eBlocked[e] {
                if !job(e, q, arrival) {
                    lagging = true
                    block(e)
                } else if let delivery = lastJob {
                    stack.append(delivery)
                }
            } else if eCursor[e] <= q {
                lagging = true
            }
        }
        if lagging { storeAppend(v, q, arrival) }
    }

    var lastJob: Delivery?

    /// Sends chunk q (held at the sender since `arrival`) on link e if it can finish before the horizon. Returns
    /// false when it cannot (the link waits for the horizon to move); sets `lastJob` to the delivery, or nil
    /// when the link died instead.
    @inline(__always)
    func job(_ e: Int, _ q: Int32, _ arrival: Double) -> Bool {
        let s = Int(eStripe[e])
        let sz = size(stripe: s, q: q)
        let start = max(eFree[e], arrival)
        let finish = start + sz / eRate[e]
        if finish > horizon { return false }
        let u = Int(eFrom[e])
        if finish > deadAt[u] {
            eAlive[e] = false
            lastJob = nil
            return true
        }
        eFree[e] = finish
        eCursor[e] = q + 1
        egress[u] += Int64(sz)
        tierBytes[Int(eTier[e])] += Int64(sz)
        lastJob = Delivery(edge: Int32(e), q: q, arrival: finish + eLatency[e])
        return true
    }

    func block(_ e: Int) {
        guard !eBlocked[e] else { return }
        eBlocked[e] = true
        blocked.append(Int32(e))
    }

    /// Advances link e as far as the sender's chunks and the horizon allow, then pushes its deliveries so that
    /// the lowest chunk is handled first.
    func resume(_ e: Int) {
        guard eAlive[e], !eBlocked[e] else { return }
        let u = Int(eFrom[e])
        let s = Int(eStripe[e])
        let have = recv[u * k + s]
        scratch.removeAll()
        var q = eCursor[e]
        let source = isSource[u]
        while q < have {
            let arrival = source ? 0 : storeArrival(u, q)
            if !job(e, q, arrival) {
                block(e)
                break
            }
            guard let delivery = lastJob else { break }
            scratch.append(delivery)
            q += 1
        }
        var i = scratch.count - 1
        while i >= 0 {
            stack.append(scratch[i])
            i -= 1
        }
    }

    // MARK: Arrival runs

    func storeAppend(_ v: Int, _ q: Int32, _ a: Double) {
        let tail = Int(storeTail[v])
        if tail >= 0 {
            let c = segCount[tail]
            if c == 1 {
                segStep[tail] = a - segT0[tail]
                segCount[tail] = 2
                return
            }
            let predicted = segT0[tail] + Double(c) * segStep[tail]
            if abs(predicted - a) <= 1e-9 * max(1, abs(a)) {
                segCount[tail] = c + 1
                return
            }
        }
        let seg: Int32
        if segFree >= 0 {
            seg = segFree
            segFree = segNext[Int(seg)]
        } else {
            seg = Int32(segT0.count)
            segT0.append(0)
            segStep.append(0)
            segFirst.append(0)
            segCount.append(0)
            segNext.append(-1)
        }
        segT0[Int(seg)] = a
        segStep[Int(seg)] = 0
        segFirst[Int(seg)] = q
        segCount[Int(seg)] = 1
        segNext[Int(seg)] = -1
        if tail >= 0 {
            segNext[tail] = seg
        } else {
            storeHead[v] = seg
            storeBase[v] = q
        }
        storeTail[v] = seg
    }

    /// When chunk q arrived at v; −∞ for a chunk no longer kept (it arrived before any link still needing it
    /// could start it).
    func storeArrival(_ v: Int, _ q: Int32) -> Double {
        var seg = Int(storeHead[v])
        if seg < 0 || q < storeBase[v] { return -.infinity }
        while seg >= 0 {
            let first = segFirst[seg]
            if q < first + segCount[seg] { return segT0[seg] + Double(q - first) * segStep[seg] }
            seg = Int(segNext[seg])
        }
        return -.infinity
    }

    /// Drops arrival runs every live link of v has sent, once they are in the past.
    func prune(_ v: Int) {
        guard !isSource[v], relayStripe[v] >= 0 else { return }
        var lowest = recv[v * k + max(0, Int(relayStripe[v]))]
        let start = Int(outStart[v])
        for i in start..<start + Int(outCount[v]) {
            let e = Int(outList[i])
            if eAlive[e] { lowest = min(lowest, eCursor[e]) }
        }
        while storeHead[v] >= 0 {
            let seg = Int(storeHead[v])
            let first = segFirst[seg]
            let count = segCount[seg]
            if first + count <= lowest {
                let last = segT0[seg] + Double(count - 1) * segStep[seg]
                guard last <= now else { break }
                storeHead[v] = segNext[seg]
                segNext[seg] = segFree
                segFree = Int32(seg)
                if storeHead[v] < 0 { storeTail[v] = -1 }
                continue
            }
            if first < lowest {
                let d = lowest - first
                let lastDropped = segT0[seg] + Double(d - 1) * segStep[seg]
                guard lastDropped <= now else { break }
                segT0[seg] += Double(d) * segStep[seg]
                segFirst[seg] = lowest
                segCount[seg] = count - d
            }
            break
        }
        storeBase[v] = storeHead[v] >= 0 ? segFirst[Int(storeHead[v])] : recv[v * k + max(0, Int(relayStripe[v]))]
    }

    // MARK: Faults and timers

    func handle(_ event: Event) {
        switch event.kind {
        case .kill:
            let v = Int(event.a)
            for s in 0..<k {
                let f = Int(feeder[v * k + s])
                guard f >= 0, eAlive[f] else { continue }
                eAlive[f] = false
                let g = Int(eFrom[f])
                if deadAt[g] > now + settings.detection { schedule(now + settings.detection, .adopt, Int32(g), Int32(v), Int32(s)) }
            }
            let start = Int(outStart[v])
            for i in start..<start + Int(outCount[v]) { eAlive[Int(outList[i])] = false }
            schedule(now + settings.detection + settings.stallAfter, .pullCheck, 0, 0, 0)
        case .adopt:
            adopt(Int(event.a), lost: Int(event.b), stripe: Int(event.stripe))
        case .partition:
            partitionActive = true
            for e in 0..<eFrom.count where eAlive[e] && isCut(Int(eFrom[e]), Int(eTo[e]), at: now) {
                eAlive[e] = false
                let g = Int(eFrom[e])
                if !isCut(g, ledger, at: now) { schedule(now + settings.detection, .adopt, Int32(g), eTo[e], eStripe[e]) }
            }
        case .pullCheck:
            pullCheck()
        }
    }

    /// Parent g lost child v in tree s (dead, or cut off): it takes on v's children there, as the agent's relay
    /// core does from the subtree plan it holds. A child it cannot reach either is handled the same way, one
    /// detection later.
    func adopt(_ g: Int, lost v: Int, stripe s: Int) {
        guard deadAt[g] > now, !isCut(g, ledger, at: now) else { return }
        var added: [Int32] = []
        let start = Int(outStart[v])
        for i in start..<start + Int(outCount[v]) {
            let e = Int(outList[i])
            guard Int(eStripe[e]) == s else { continue }
            let c = Int(eTo[e])
            guard feeder[c * k + s] == Int32(e) else { continue }
            eAlive[e] = false
            if deadAt[c] <= now + 3 * eLatency[e] || isCut(g, c, at: now) {
                schedule(now + settings.detection, .adopt, Int32(g), Int32(c), Int32(s))
                feeder[c * k + s] = -1
                continue
            }
            let ne = addEdge(from: g, to: c, stripe: s)
            eFree[Int(ne)] = now + 3 * eLatency[Int(ne)]
            feeder[c * k + s] = ne
            contacted[c] = min(contacted[c], eFree[Int(ne)])
            added.append(ne)
            propagateContact(from: c)
        }
        guard !added.isEmpty else { return }
        adoptions += added.count
        appendOut(g, added)
        computeShares(g)
        for e in added { block(Int(e)) }
    }

    /// An adopted node now has its subtree plan: it connects to its own children, and they to theirs, as the
    /// PLAN frames go down (links that never connected start now).
    func propagateContact(from root: Int) {
        var pending = [root]
        while let u = pending.popLast() {
            let start = Int(outStart[u])
            for i in start..<start + Int(outCount[u]) {
                let e = Int(outList[i])
                guard eAlive[e], !eFree[e].isFinite else { continue }
                let c = Int(eTo[e])
                let t = contacted[u] + 3 * eLatency[e]
                if deadAt[c] <= t || isCut(u, c, at: t) {
                    eAlive[e] = false
                    schedule(max(now, t) + settings.detection, .adopt, Int32(u), Int32(c), eStripe[e])
                    continue
                }
                eFree[e] = t
                if t < contacted[c] {
                    contacted[c] = t
                    pending.append(c)
                }
            }
        }
    }

    func appendOut(_ u: Int, _ edges: [Int32]) {
        let start = Int(outStart[u])
        let count = Int(outCount[u])
        let newStart = Int32(outList.count)
        for i in start..<start + count { outList.append(outList[i]) }
        for e in edges { outList.append(e) }
        outStart[u] = newStart
        outCount[u] = Int32(count + edges.count)
    }

    /// Every live node that can reach the ledger and has a tree with no live feeder pulls that tree's missing
    /// chunks from the ledger's store (orphans, nodes cut off from their parents).
    func pullCheck() {
        var added: [Int32] = []
        for v in 0..<fleetCount where deadAt[v] > now && !isCut(v, ledger, at: now) && total[v] < Int32(chunkCount) {
            for s in 0..<k where recv[v * k + s] < stripeChunks[s] {
                let f = Int(feeder[v * k + s])
                if f >= 0 && eAlive[f] && eFree[f].isFinite { continue }
                if f >= 0 { eAlive[f] = false }
                let ne = addEdge(from: ledger, to: v, stripe: s)
                eFree[Int(ne)] = now + 3 * eLatency[Int(ne)]
                feeder[v * k + s] = ne
                if contacted[v] > now { orphan[v] = true }
                pulled[v] = true
                added.append(ne)
            }
        }
        guard !added.isEmpty else { return }
        appendOut(ledger, added)
        computeShares(ledger)
        for e in added { block(Int(e)) }
    }
}

/// Breadth-first order of one tree from its sources.
struct StripeOrder {
    let order: [Int32]

    init(parents: [Int32], count n: Int) {
        var childCount = [Int32](repeating: 0, count: n + 1)
        for p in parents where p >= 0 { childCount[Int(p)] += 1 }
        var start = [Int32](repeating: 0, count: n + 1)
        for i in 1...n { start[i] = start[i - 1] + childCount[i - 1] }
        var fill = start
        var children = [Int32](repeating: 0, count: Int(start[n]))
        for (v, p) in parents.enumerated() where p >= 0 {
            children[Int(fill[Int(p)])] = Int32(v)
            fill[Int(p)] += 1
        }
        var order: [Int32] = []
        order.reserveCapacity(n)
        for (v, p) in parents.enumerated() where p < 0 { order.append(Int32(v)) }
        var head = 0
        while head < order.count {
            let x = Int(order[head])
            head += 1
            let from = Int(start[x])
            for i in from..<from + Int(childCount[x]) { order.append(children[i]) }
        }
        self.order = order
    }
}
