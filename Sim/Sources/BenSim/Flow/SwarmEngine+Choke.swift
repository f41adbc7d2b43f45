import BenTopology

/// The swarm as aria2c runs it (the client of the shaped-network benchmark, `Benchmarks/shaped_bench.py`); each
/// rule is aria2c's, with the source that says so:
///
/// - Joining: leechers join over `joinSpread` in a seeded order; each, once its announce and connections are
///   done (4 one-way latencies to the ledger), is linked to up to `peers` random nodes that joined before it
///   (`--bt-max-peers`; the tracker lists the peers it knows, and the client connects to them).
/// - Unchoking: each of a node's `slots` upload slots serves one unchoked peer (BtLeecherStateChoke: 3 regular
///   by the rate they send at, 1 optimistic). A slot keeps serving its peer while the peer lacks a piece the
///   node holds, with requests pipelined (no gap between pieces). When the peer wants nothing more, aria2c runs
///   a choke round at once (BtNotInterestedMessage) and unchokes another interested peer, preferring the one
///   that sent it most; the UNCHOKE goes out on a connection with no traffic, so at the node's next tick.
/// - The event loop (DownloadEngine: a 1 s refresh): a node that gets a piece announces it (HAVE) to peers
///   whose connections are idle at its next tick; a slot with no interested peer looks again then. A peer's
///   first request follows its unchoke by a round trip.
/// - Choke rounds every `chokeInterval` (PeerChokeCommand, 10 s) rebind every slot: the `slots` − 1 interested
///   peers that sent most since the last round (a node holding everything keeps its current peers, as
///   BtSeederStateChoke prefers those it unchoked recently), and one at random.
/// - Requests: a downloader asks an unchoked peer for whole pieces, `pipeline` bytes of them at once, each the
///   rarest (fewest holders) of those the peer has, ties in the downloader's own random order (RarestPieceSelector
///   over a shuffled PieceStatMan); a piece asked of one peer is asked of no other (no end game). Two downloaders
///   may ask the seed for the same piece before either has it: that is where a real seed's extra egress goes.
/// - Allowed fast (BEP 6): a peer v chokes may still ask v for pieces of the allowed fast set, one at a time per
///   link; the set is one for the whole fleet (hosts of one subnet), so at the start every leecher asks the seed
///   for the same few pieces.
/// - Sharing: a node's busy slots and allowed fast sends share its uplink equally (TCP flows through one queue), each capped by its
///   link; shares change as sends start and end. A send on a connection idle for longer than TCP's
///   retransmission timeout ramps up from `initialWindow` (Linux restarts slow start after idle).
struct ChokeState {
    enum SlotState: UInt8 { case idle, pending, sending }

    var joinAt: [Double]
    var phase: [Double]
    var slotPeer: [Int32]
    var slotTo: [Int32]
    var slotChunk: [Int32]
    var slotState: [SlotState]
    var slotVersion: [Int32]
    var slotRemaining: [Double]
    var slotRate: [Double]
    var busy: [Int32]
    var lastShare: [Double]
    var wakeAt: [Double]
    /// Chunks each slot's peer has asked for beyond the one on its way (-1: none), `depth` − 1 per slot.
    var ahead: [Int32]
    var depth: Int
    /// The allowed fast set (one for the whole fleet, as for hosts of one subnet), as a bitmap like `have`.
    var fast: [UInt64] = []
    /// Nodes holding each chunk (aria2c's piece counts from HAVE messages), and a salt for its per-client order.
    var holders: [Int32]
    var salt: UInt64
    /// Each slot's last peer and when its last send ended (a warm TCP connection, or one back in slow start).
    var lastPeer: [Int32]
    var lastEnd: [Double]
    /// Bytes each node got from each of its peers since its last choke round, aligned with `peers`.
    var gotFrom: [Int64] = []

    /// The state for `n` nodes (the ledger, the seed, last) and the peer lists of the join order.
    static func make(
        n: Int, ledger: Int, slots: Int, chunks: Int, chunkSize: Double, settings: Scenario.Swarm, random: inout SimRandom
    ) -> (ChokeState, [[Int32]]) {
        let depth = max(1, Int((settings.pipeline / chunkSize).rounded(.up)))
        let fleetCount = n - 1
        var order = (0..<Int32(fleetCount)).map { $0 }
        random.shuffle(&order)
        var offset = [Double](repeating: 0, count: n)
        for (i, v) in order.enumerated() { offset[Int(v)] = settings.joinSpread * Double(i) / Double(max(1, fleetCount)) }
        // Each joining node links to up to `peers` of the nodes that joined before it, at random (a tracker's
        // list); they take the connection whatever their count, so no node is left without peers.
        var lists = [[Int32]](repeating: [], count: n)
        var joined: [Int32] = [Int32(ledger)]
        for v in order {
            for w in random.sample(joined, settings.peers) {
                lists[Int(v)].append(w)
                lists[Int(w)].append(v)
            }
            joined.append(v)
        }
        var phase = [Double](repeating: 0, count: n)
        for v in 0..<n { phase[v] = random.unit() * settings.tick }
        let state = ChokeState(
            joinAt: offset, phase: phase, slotPeer: [Int32](repeating: -1, count: n * slots), slotTo: [Int32](repeating: -1, count: n * slots),
            slotChunk: [Int32](repeating: -1, count: n * slots), slotState: [SlotState](repeating: .idle, count: n * slots),
            slotVersion: [Int32](repeating: 0, count: n * slots), slotRemaining: [Double](repeating: 0, count: n * slots),
            slotRate: [Double](repeating: 0, count: n * slots), busy: [Int32](repeating: 0, count: n), lastShare: [Double](repeating: 0, count: n),
            wakeAt: [Double](repeating: .infinity, count: n), ahead: [Int32](repeating: -1, count: n * slots * max(1, depth - 1)), depth: depth,
            holders: [Int32](repeating: 1, count: chunks), salt: random.next(), lastPeer: [Int32](repeating: -1, count: n * slots),
            lastEnd: [Double](repeating: -.infinity, count: n * slots))
        return (state, lists)
    }

    var bytes: Int { joinAt.count * (8 * 5 + 4) + slotTo.count * (4 * 4 + 1 + 16) + slotPeer.count * 4 + gotFrom.count * 8 + fast.count * 8 }
}

extension SwarmEngine {
    func runChoked() {
        guard var s = choke else { return }
        s.gotFrom = [Int64](repeating: 0, count: peers.count)
        // Transfers: each node's slots (n × slots), then one per link for allowed fast pieces (n × slots + i).
        let links = peers.count
        s.slotTo += [Int32](repeating: -1, count: links)
        s.slotChunk += [Int32](repeating: -1, count: links)
        s.slotState += [ChokeState.SlotState](repeating: .idle, count: links)
        s.slotVersion += [Int32](repeating: 0, count: links)
        s.slotRemaining += [Double](repeating: 0, count: links)
        s.slotRate += [Double](repeating: 0, count: links)
        s.lastPeer += [Int32](repeating: -1, count: links)
        s.lastEnd += [Double](repeating: -.infinity, count: links)
        s.fast = [UInt64](repeating: 0, count: words)
        for c in random.sample((0..<Int32(chunkCount)).map { $0 }, settings.allowedFast) { s.fast[Int(c) >> 6] |= 1 << UInt64(c & 63) }
        for v in 0..<ledger {
            s.joinAt[v] += 4 * ledgerLatency(v)
        }
        choke = s
        for v in 0..<n {
            push(choke!.joinAt[v], .wake, node: v, chunk: 0, from: 1)
            push(choke!.joinAt[v] + choke!.phase[v] + settings.chokeInterval, .chokeRound, node: v, chunk: 0, from: 0)
        }
        while let e = heap.popMin() {
            events += 1
            let t = e.time
            let v = Int(e.node)
            switch e.kind {
            case .arrival: arrive(v, chunk: Int(e.chunk), from: Int(e.from), at: t)
            case .slotFree: slotEvent(v, slot: Int(e.chunk), version: e.from, at: t)
            case .wake:
                serve(v, at: t)
                // A node that just joined is news to its peers: they can unchoke it once it says it is interested.
                if e.from == 1 {
                    for i in Int(peerStart[v])..<Int(peerStart[v + 1]) {
                        let w = Int(peers[i])
                        if t >= choke!.joinAt[w] { serve(w, at: t) }
                    }
                }
            case .chokeRound:
                rounds -= 1
                guard t < deadAt[v] else { continue }
                chokeRound(v, at: t)
                // Rounds go on while anything else can happen.
                if heap.count > rounds { push(t + settings.chokeInterval, .chokeRound, node: v, chunk: 0, from: 0) }
            }
        }
    }

    /// The transfer `k` of v: its slots first, then its links' allowed fast sends.
    func xfer(_ v: Int, _ k: Int) -> Int {
        k < slots ? v * slots + k : n * slots + Int(peerStart[v]) + k - slots
    }

    func transfers(_ v: Int) -> Int { slots + Int(peerStart[v + 1] - peerStart[v]) }

    func ledgerLatency(_ v: Int) -> Double {
        fleet.link(fromRack: -1, zone: zoneOf[ledger], region: regionOf[ledger], toRack: rackOf[v], zone: zoneOf[v], region: regionOf[v]).2
    }

    func linkTo(_ v: Int, _ w: Int) -> (Tier, Double, Double) {
        fleet.link(fromRack: rackOf[v], zone: zoneOf[v], region: regionOf[v], toRack: rackOf[w], zone: zoneOf[w], region: regionOf[w])
    }

    /// The first tick of v at or after t.
    func nextTick(_ v: Int, after t: Double) -> Double {
        let tick = settings.tick
        guard tick > 0 else { return t }
        let p = choke!.phase[v]
        return p + (((t - p) / tick).rounded(.up)) * tick
    }

    func wake(_ v: Int, at t: Double) {
        guard t != choke!.wakeAt[v] else { return }
        choke!.wakeAt[v] = t
        push(t, .wake, node: v, chunk: 0, from: 0)
    }

    func usable(_ v: Int, _ w: Int, at t: Double) -> Bool {
        t >= choke!.joinAt[w] && t < deadAt[w] && !cut(v, w, at: t) && held[w] < Int32(chunkCount)
    }

    func arrive(_ v: Int, chunk c: Int, from: Int, at t: Double) {
        switch land(v, chunk: c, from: from, at: t) {
        case .lost:
            if t < deadAt[v] { for i in Int(peerStart[v])..<Int(peerStart[v + 1]) { wake(Int(peers[i]), at: t) } }
            return
        case .duplicate:
            return
        case .new:
            break
        }
        choke!.holders[c] += 1
        for i in Int(peerStart[v])..<Int(peerStart[v + 1]) where Int(peers[i]) == from {
            choke!.gotFrom[i] += Int64(size(c))
            break
        }
        // The HAVE reaches peers on idle connections at v's next tick; then they may ask for it.
        wake(v, at: nextTick(v, after: t))
        // Peers holding a slot idle for v: v may have lost interest in them (its NOT_INTERESTED) or can ask for
        // what it no longer gets elsewhere; it says so on those idle connections at its next tick.
        let lacksFast = (0..<words).contains { choke!.fast[$0] & ~have[v * words + $0] & ~claimed[v * words + $0] != 0 }
        for i in Int(peerStart[v])..<Int(peerStart[v + 1]) {
            let u = Int(peers[i])
            if lacksFast {
                wake(u, at: nextTick(v, after: t))
                continue
            }
            for slot in 0..<slots where choke!.slotPeer[u * slots + slot] == Int32(v) && choke!.slotState[u * slots + slot] == .idle {
                wake(u, at: nextTick(v, after: t))
                break
            }
        }
    }

    /// A pending send starts, or a send ends; `version` tells a stale finish (the share changed) from the last.
    func slotEvent(_ v: Int, slot: Int, version: Int32, at t: Double) {
        let j = xfer(v, slot)
        guard choke!.slotVersion[j] == version else { return }
        switch choke!.slotState[j] {
        case .idle: return
        case .pending:
            guard t < deadAt[v] else {
                // Dead before it started: someone else may send it.
                let w = Int(choke!.slotTo[j])
                let c = Int(choke!.slotChunk[j])
                claimed[w * words + c >> 6] &= ~(1 << UInt64(c & 63))
                choke!.slotState[j] = .idle
                for i in Int(peerStart[w])..<Int(peerStart[w + 1]) { wake(Int(peers[i]), at: t) }
                return
            }
            choke!.slotState[j] = .sending
            choke!.slotRemaining[j] = size(Int(choke!.slotChunk[j]))
            choke!.slotRate[j] = 0
            reshare(v, at: t, adding: 1)
        case .sending:
            let w = Int(choke!.slotTo[j])
            let c = Int(choke!.slotChunk[j])
            choke!.slotState[j] = .idle
            choke!.lastPeer[j] = Int32(w)
            choke!.lastEnd[j] = t
            reshare(v, at: t, adding: -1)
            let (tier, _, latency) = linkTo(v, w)
            if t <= deadAt[v] {
                push(t + latency, .arrival, node: w, chunk: c, from: v)
                egress[v] += Int64(size(c))
                tierBytes[tier.rawValue] += Int64(size(c))
            } else {
                claimed[w * words + c >> 6] &= ~(1 << UInt64(c & 63))
            }
            serve(v, at: t)
        }
    }

    /// Brings every sending slot of v to time t and gives each an equal share of v's uplink, capped by its link.
    func reshare(_ v: Int, at t: Double, adding delta: Int32) {
        let elapsed = t - choke!.lastShare[v]
        choke!.lastShare[v] = t
        choke!.busy[v] += delta
        let busy = max(1, Int(choke!.busy[v]))
        for slot in 0..<transfers(v) {
            let j = xfer(v, slot)
            guard choke!.slotState[j] == .sending else { continue }
            choke!.slotRemaining[j] = max(0, choke!.slotRemaining[j] - choke!.slotRate[j] * elapsed)
            let cap = linkTo(v, Int(choke!.slotTo[j])).1
            choke!.slotRate[j] = min(cap, uplink[v] / Double(busy))
            choke!.slotVersion[j] &+= 1
            push(t + choke!.slotRemaining[j] / choke!.slotRate[j], .slotFree, node: v, chunk: slot, from: Int(choke!.slotVersion[j]))
        }
    }

    /// Claims chunk c for w on slot `slot` of v and starts the send at `start`.
    func begin(_ v: Int, slot: Int, to w: Int, chunk c: Int, start: Double) {
        let j = xfer(v, slot)
        claimed[w * words + c >> 6] |= 1 << UInt64(c & 63)
        choke!.slotTo[j] = Int32(w)
        choke!.slotChunk[j] = Int32(c)
        choke!.slotState[j] = .pending
        choke!.slotVersion[j] &+= 1
        // A connection that was idle for longer than TCP's retransmission timeout starts again from the initial
        // window (Linux: tcp_slow_start_after_idle); the time lost ramping up is spent before the send.
        var at = start
        let rtt = 2 * linkTo(v, w).2
        if settings.initialWindow > 0 && !(choke!.lastPeer[j] == Int32(w) && start - choke!.lastEnd[j] <= max(0.2, 1.5 * rtt)) {
            at += slowStartDelay(size(c), rate: uplink[v] / Double(slots), rtt: rtt)
        }
        push(at, .slotFree, node: v, chunk: slot, from: Int(choke!.slotVersion[j]))
        if slot < slots { topUp(v, slot: slot, for: w) }
    }

    /// What slow start from the initial window costs a send of `bytes` at `rate` over `rtt`: its time less
    /// the time at the full rate.
    func slowStartDelay(_ bytes: Double, rate: Double, rtt: Double) -> Double {
        guard rtt > 0 else { return 0 }
        var window = settings.initialWindow
        var sent = 0.0
        var elapsed = 0.0
        while sent < bytes && window < rate * rtt {
            sent += window
            elapsed += rtt
            window *= 2
        }
        return max(0, elapsed - min(sent, bytes) / rate)
    }

    func isBound(_ v: Int, _ w: Int) -> Bool {
        for slot in 0..<slots where choke!.slotPeer[v * slots + slot] == Int32(w) { return true }
        return false
    }

    /// Fills v's idle slots. A slot keeps its peer while the peer is interested (lacks a chunk v holds), and
    /// sends it a chunk it lacks and is not getting elsewhere; an interested peer that is getting all of them
    /// elsewhere keeps the slot idle (aria2c's interest counts pieces in flight). A slot whose peer is not
    /// interested is rebound to the interested peer that sent v most (ties at random); its UNCHOKE goes out at
    /// v's next tick and the first request a round trip later.
    func serve(_ v: Int, at t: Double) {
        guard t < deadAt[v], t >= choke!.joinAt[v], held[v] > 0 else { return }
        for slot in 0..<slots {
            let j = v * slots + slot
            guard choke!.slotState[j] == .idle else { continue }
            let bound = Int(choke!.slotPeer[j])
            if bound >= 0, usable(v, bound, at: t), interested(bound, in: v) {
                if let c = nextAhead(j) ?? request(v, bound) { begin(v, slot: slot, to: bound, chunk: c, start: t) }
                continue
            }
            rebind(v, slot: slot, to: interestedPeer(v, at: t), at: t)
        }
        // Peers v chokes ask it for allowed fast pieces it holds, one at a time each, a round trip after hearing.
        guard settings.allowedFast > 0 else { return }
        for i in Int(peerStart[v])..<Int(peerStart[v + 1]) {
            let w = Int(peers[i])
            let k = slots + i - Int(peerStart[v])
            guard choke!.slotState[xfer(v, k)] == .idle, usable(v, w, at: t), !isBound(v, w), let c = request(v, w, fastOnly: true) else { continue }
            begin(v, slot: k, to: w, chunk: c, start: t + 2 * linkTo(v, w).2)
        }
    }

    /// Binds slot `slot` of v to w (or to no one), dropping what the old peer had asked for; an idle slot starts
    /// the new peer's first piece after v's next tick and a round trip.
    func rebind(_ v: Int, slot: Int, to w: Int?, at t: Double) {
        let j = v * slots + slot
        let old = Int(choke!.slotPeer[j])
        if old >= 0 && old != w {
            var released = false
            while let c = nextAhead(j) {
                claimed[old * words + c >> 6] &= ~(1 << UInt64(c & 63))
                released = true
            }
            if released { for i in Int(peerStart[old])..<Int(peerStart[old + 1]) { wake(Int(peers[i]), at: t) } }
        }
        choke!.slotPeer[j] = Int32(w ?? -1)
        guard let w, choke!.slotState[j] == .idle, let c = request(v, w) else { return }
        begin(v, slot: slot, to: w, chunk: c, start: nextTick(v, after: t) + 2 * linkTo(v, w).2)
    }

    /// The first chunk slot j's peer asked for ahead, taken off the list.
    func nextAhead(_ j: Int) -> Int? {
        let base = j * max(1, choke!.depth - 1)
        guard choke!.depth > 1, choke!.ahead[base] >= 0 else { return nil }
        let c = Int(choke!.ahead[base])
        for i in 0..<(choke!.depth - 2) { choke!.ahead[base + i] = choke!.ahead[base + i + 1] }
        choke!.ahead[base + choke!.depth - 2] = -1
        return c
    }

    /// w asks v for more, up to the pipeline's depth: each a chunk v holds that w lacks and has not asked for.
    func topUp(_ v: Int, slot: Int, for w: Int) {
        let base = (v * slots + slot) * max(1, choke!.depth - 1)
        for i in 0..<(choke!.depth - 1) where choke!.ahead[base + i] < 0 {
            guard let c = request(v, w) else { return }
            claimed[w * words + c >> 6] |= 1 << UInt64(c & 63)
            choke!.ahead[base + i] = Int32(c)
        }
    }

    /// What w asks v for: of the chunks v holds that w lacks and has not asked anyone for, the one fewest nodes
    /// hold (aria2c's rarest first), ties in w's own random order.
    func request(_ v: Int, _ w: Int, fastOnly: Bool = false) -> Int? {
        var best: Int?
        var bestKey = (Int32.max, UInt64.max)
        for word in 0..<words {
            var bits = have[v * words + word] & ~have[w * words + word] & ~claimed[w * words + word]
            if fastOnly { bits &= choke!.fast[word] }
            while bits != 0 {
                let c = word * 64 + bits.trailingZeroBitCount
                bits &= bits - 1
                let key = (choke!.holders[c], mix(choke!.salt ^ UInt64(w) << 32 ^ UInt64(c)))
                if key < bestKey {
                    bestKey = key
                    best = c
                }
            }
        }
        return best
    }

    func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// w lacks a chunk v holds (aria2c: it sends INTERESTED), whether or not it is getting it elsewhere.
    func interested(_ w: Int, in v: Int) -> Bool {
        for word in 0..<words where have[v * words + word] & ~have[w * words + word] != 0 { return true }
        return false
    }

    /// The unbound interested peer of v that sent v the most since v's last round (ties at random).
    func interestedPeer(_ v: Int, at t: Double) -> Int? {
        let from = Int(peerStart[v])
        let count = Int(peerStart[v + 1]) - from
        guard count > 0 else { return nil }
        let start = random.below(count)
        var best: Int?
        var bestBytes: Int64 = -1
        for step in 0..<count {
            let i = from + (start + step) % count
            let w = Int(peers[i])
            guard choke!.gotFrom[i] > bestBytes, usable(v, w, at: t), !isBound(v, w), interested(w, in: v) else { continue }
            best = w
            bestBytes = choke!.gotFrom[i]
        }
        return best
    }

    /// Every slot rebound: the slots − 1 interested peers that sent most since the last round (a node holding
    /// everything keeps those it serves), and one at random; a slot mid-send finishes that piece first.
    func chokeRound(_ v: Int, at t: Double) {
        let from = Int(peerStart[v])
        let to = Int(peerStart[v + 1])
        var interested: [(bytes: Int64, keep: Bool, peer: Int)] = []
        for i in from..<to {
            let w = Int(peers[i])
            guard usable(v, w, at: t), self.interested(w, in: v) else { continue }
            interested.append((choke!.gotFrom[i], held[v] == Int32(chunkCount) && isBound(v, w), w))
        }
        random.shuffleTuples(&interested)
        interested.sort { ($0.keep ? 1 : 0, $0.bytes) > ($1.keep ? 1 : 0, $1.bytes) }
        var chosen = interested.prefix(slots - 1).map(\.peer)
        if interested.count > chosen.count { chosen.append(interested[chosen.count + random.below(interested.count - chosen.count)].peer) }
        for i in from..<to { choke!.gotFrom[i] = 0 }
        // Slots already serving a chosen peer keep it; the others take the rest.
        var rest = chosen.filter { !isBound(v, $0) }
        for slot in 0..<slots {
            let bound = Int(choke!.slotPeer[v * slots + slot])
            if bound >= 0 && chosen.contains(bound) { continue }
            rebind(v, slot: slot, to: rest.isEmpty ? nil : rest.removeFirst(), at: t)
        }
    }
}

extension SimRandom {
    mutating func shuffleTuples<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) }
    }
}
