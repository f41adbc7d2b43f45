import BenTopology
import HeapModule

/// A BitTorrent-like swarm, chunk by chunk (a chunk is a piece: a node offers it once it holds all of it).
/// Topology-blind, like a tracker's peer list. Two schedulers:
///
/// - Idealised (`chokeInterval` 0): each node links to a few random peers (the ledger seeds a few of them too),
///   and each of its upload slots, when free, sends a random chunk it holds to a peer that neither holds nor is
///   receiving it, at once, at a fixed share of its uplink.
/// - Choked, as aria2c does it (`SwarmEngine+Choke.swift`): each slot is bound to one unchoked peer; a node's
///   busy slots share its uplink as TCP flows do; a slot whose peer wants nothing more is rebound, and what a
///   node says on an idle connection waits for its event loop's next tick; choke rounds rebind every slot.
///
/// Every chunk is its own pair of events (sent, arrived) on a `Heap`, so it is much slower than the tree engine:
/// it is here to be compared with, on fleets up to about 10^5 nodes.
final class SwarmEngine {
    struct Event: Comparable {
        var time: Double
        var seq: UInt64
        var kind: Kind
        var node: Int32
        var chunk: Int32
        var from: Int32

        static func < (x: Event, y: Event) -> Bool { (x.time, x.seq) < (y.time, y.seq) }
        static func == (x: Event, y: Event) -> Bool { x.seq == y.seq }
    }

    enum Kind: UInt8 {
        /// `node` gets `chunk` from `from`.
        case arrival
        /// A slot of `node` is free (idealised), or slot `chunk` of `node` finished a send whose version is `from`.
        case slotFree
        /// `node` looks at its idle slots again (its tick after news, or a peer joining).
        case wake
        /// `node` runs a choke round.
        case chokeRound
    }

    let fleet: SimFleet
    let faults: RunFaults
    let n: Int
    let ledger: Int
    let chunkCount: Int
    let words: Int
    let chunkSize: Double
    let lastChunkSize: Double
    let slots: Int
    let compile: Double
    let settings: Scenario.Swarm
    var choke: ChokeState?
    var uplink: [Double]
    var deadAt: [Double]
    var rackOf: [Int32]
    var zoneOf: [Int32]
    var regionOf: [Int32]
    /// Two bitmaps per node: chunks held, and chunks held or on their way.
    var have: Column<UInt64>
    var claimed: Column<UInt64>
    var held: Column<Int32>
    var idleSlots: Column<Int32>
    var peerStart: [Int32]
    var peers: [Int32]
    var rotate: Column<Int32>
    var done: [Double]
    var egress: [Int64]
    var heap = Heap<Event>()
    /// Choke rounds in the heap (they go on only while something else is there).
    var rounds = 0
    var sequence: UInt64 = 0
    var random: SimRandom
    var tierBytes = [Int64](repeating: 0, count: 4)
    var receivedBytes: Int64 = 0
    var duplicatedBytes: Int64 = 0
    var deliveries: Int64 = 0
    var events: Int64 = 0

    init(fleet: SimFleet, faults: RunFaults, bundleSize: Int64, chunkSize: Int64, settings: Scenario.Swarm, seed: UInt64, compile: Double) {
        self.fleet = fleet
        self.faults = faults
        n = fleet.nodeCount + 1
        ledger = fleet.nodeCount
        chunkCount = Int((bundleSize + chunkSize - 1) / chunkSize)
        words = (chunkCount + 63) / 64
        self.chunkSize = Double(chunkSize)
        lastChunkSize = Double(bundleSize - Int64(chunkCount - 1) * chunkSize)
        slots = settings.slots
        self.settings = settings
        self.compile = compile
        uplink = zip(fleet.uplink, faults.uplinkFactor).map { $0 * $1 } + [fleet.ledgerUplink]
        deadAt = faults.deadAt + [.infinity]
        rackOf = fleet.rack + [-1]
        zoneOf = fleet.zone + [Int32(fleet.topology.ledger.zone)]
        regionOf = fleet.region + [Int32(fleet.topology.ledger.region)]
        have = Column(repeating: 0, count: n * words)
        claimed = Column(repeating: 0, count: n * words)
        held = Column(repeating: 0, count: n)
        idleSlots = Column(repeating: Int32(settings.slots), count: n)
        rotate = Column(repeating: 0, count: n)
        done = [Double](repeating: .infinity, count: fleet.nodeCount)
        egress = [Int64](repeating: 0, count: n)
        random = SimRandom(seed: seed, stream: 0x5A4A)
        // Random peer links, made two-way; the ledger seeds `peers` random nodes.
        var lists = [[Int32]](repeating: [], count: n)
        let fleetCount = fleet.nodeCount
        for v in 0..<fleetCount where settings.chokeInterval == 0 {
            for _ in 0..<min(settings.peers, max(0, fleetCount - 1)) {
                var w = random.below(fleetCount)
                if w == v { w = (w + 1) % fleetCount }
                if !lists[v].contains(Int32(w)) {
                    lists[v].append(Int32(w))
                    lists[w].append(Int32(v))
                }
            }
        }
        if settings.chokeInterval == 0 {
            for w in random.sample((0..<Int32(fleetCount)).map { $0 }, settings.peers) {
                lists[ledger].append(w)
                lists[Int(w)].append(Int32(ledger))
            }
        } else {
            let (state, joined) = ChokeState.make(
                n: n, ledger: ledger, slots: slots, chunks: chunkCount, chunkSize: Double(chunkSize), settings: settings, random: &random)
            choke = state
            lists = joined
        }
        peerStart = [0]
        peers = []
        for list in lists {
            peers += list
            peerStart.append(Int32(peers.count))
        }
        for w in 0..<words {
            let bits = min(64, chunkCount - w * 64)
            let full: UInt64 = bits == 64 ? ~0 : (1 << UInt64(bits)) - 1
            have[ledger * words + w] = full
            claimed[ledger * words + w] = full
        }
        held[ledger] = Int32(chunkCount)
    }

    deinit {
        have.free()
        claimed.free()
        held.free()
        idleSlots.free()
        rotate.free()
    }

    var stateBytes: Int {
        have.bytes + claimed.bytes + held.bytes + idleSlots.bytes + rotate.bytes + peers.count * 4 + peerStart.count * 4
            + n * (8 * 5 + 12) + (choke?.bytes ?? 0)
    }

    /// What became of a chunk that reached `v` from `from` at `t`.
    enum Landing { case lost, duplicate, new }

    /// Counts a chunk reaching `v`: lost (`v` is dead or the link was cut; the claim on it is released, so another
    /// peer may send it), a duplicate, or new (now held, and `v` done once it holds every chunk). Both swarm models
    /// land chunks through here.
    func land(_ v: Int, chunk c: Int, from: Int, at t: Double) -> Landing {
        deliveries += 1
        let bit: UInt64 = 1 << UInt64(c & 63)
        guard t < deadAt[v], !cut(from, v, at: t) else {
            claimed[v * words + c >> 6] &= ~bit
            return .lost
        }
        if have[v * words + c >> 6] & bit != 0 {
            duplicatedBytes += Int64(size(c))
            return .duplicate
        }
        have[v * words + c >> 6] |= bit
        held[v] += 1
        receivedBytes += Int64(size(c))
        if held[v] == Int32(chunkCount) && v < ledger { done[v] = t + compile }
        return .new
    }

    func cut(_ a: Int, _ b: Int, at t: Double) -> Bool {
        guard faults.partitionZone >= 0, t >= faults.partitionAt else { return false }
        return (zoneOf[a] == faults.partitionZone) != (zoneOf[b] == faults.partitionZone)
    }

    func push(_ time: Double, _ kind: Kind, node: Int, chunk: Int, from: Int) {
        sequence += 1
        if kind == .chokeRound { rounds += 1 }
        heap.insert(Event(time: time, seq: sequence, kind: kind, node: Int32(node), chunk: Int32(chunk), from: Int32(from)))
    }

    func run() {
        if choke != nil {
            runChoked()
            return
        }
        fillSlots(ledger, at: 0)
        while let e = heap.popMin() {
            events += 1
            let t = e.time
            if e.kind == .arrival {
                let v = Int(e.node)
                switch land(v, chunk: Int(e.chunk), from: Int(e.from), at: t) {
                case .lost:
                    // Someone else may send it now.
                    if t < deadAt[v] {
                        for i in Int(peerStart[v])..<Int(peerStart[v + 1]) where idleSlots[Int(peers[i])] > 0 { fillSlots(Int(peers[i]), at: t) }
                    }
                case .duplicate:
                    break
                case .new:
                    // Only this node has something new to offer; what its peers lack only shrank.
                    fillSlots(v, at: t)
                }
            } else {
                let v = Int(e.node)
                idleSlots[v] += 1
                guard t < deadAt[v] else { continue }
                fillSlots(v, at: t)
            }
        }
    }

    @inline(__always)
    func size(_ c: Int) -> Double { c == chunkCount - 1 ? lastChunkSize : chunkSize }

    /// Starts sends on v's free slots while some peer lacks something v holds.
    func fillSlots(_ v: Int, at t: Double) {
        guard t < deadAt[v] else { return }
        let from = Int(peerStart[v])
        let count = Int(peerStart[v + 1]) - from
        guard count > 0 else { return }
        while idleSlots[v] > 0 {
            var sent = false
            for step in 0..<count {
                let w = Int(peers[from + (Int(rotate[v]) + step) % count])
                if t >= deadAt[w] || cut(v, w, at: t) || held[w] == Int32(chunkCount) { continue }
                guard let c = pickChunk(v, w) else { continue }
                rotate[v] = Int32((Int(rotate[v]) + step + 1) % count)
                claimed[w * words + c >> 6] |= 1 << UInt64(c & 63)
                idleSlots[v] -= 1
                let sz = size(c)
                let (tier, cap, latency) = fleet.link(
                    fromRack: rackOf[v], zone: zoneOf[v], region: regionOf[v], toRack: rackOf[w], zone: zoneOf[w], region: regionOf[w])
                let finish = t + sz / min(cap, uplink[v] / Double(slots))
                push(finish, .slotFree, node: v, chunk: c, from: v)
                if finish <= deadAt[v] {
                    push(finish + latency, .arrival, node: w, chunk: c, from: v)
                    egress[v] += Int64(sz)
                    tierBytes[tier.rawValue] += Int64(sz)
                } else {
                    claimed[w * words + c >> 6] &= ~(1 << UInt64(c & 63))
                }
                sent = true
                break
            }
            if !sent { return }
        }
    }

    /// A random chunk v holds that w neither holds nor is receiving.
    func pickChunk(_ v: Int, _ w: Int) -> Int? {
        let start = random.below(words)
        for i in 0..<words {
            let word = (start + i) % words
            let useful = have[v * words + word] & ~claimed[w * words + word]
            if useful != 0 {
                var bits = useful
                var pick = random.below(useful.nonzeroBitCount)
                while pick > 0 {
                    bits &= bits - 1
                    pick -= 1
                }
                return word * 64 + bits.trailingZeroBitCount
            }
        }
        return nil
    }
}
