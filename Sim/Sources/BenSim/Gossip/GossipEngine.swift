import BenCore
import BenCrypto
import BenProtocol
import BenTopology
import HeapModule
import NIOCore

/// The gossip engine: one real `MembershipMachine` and one real `BroadcastMachine` per node (and for the ledger),
/// over a simulated datagram network with a virtual clock and a seeded gremlin that drops, delays and partitions,
/// crashes and pauses nodes, and forges datagrams (CONVENTIONS habit 7: the simulator is a third shell).
///
/// Around the machines it keeps what the agent and the ledger would: each node's highest accepted version (only a
/// genuinely signed announcement moves it; signatures are real Ed25519), when it learned each version and by which
/// path, its signed ack and when that reached the ledger (directly over NATS, or through a peer that has NATS).
/// Datagrams are authenticated by ground truth: a datagram the gremlin forged fails the shell's check (its Ed25519
/// signature cannot verify against the claimed sender's topology key), every other one passes; the real signature
/// check is the agent shell's and is exercised by its own tests.
///
/// After the run it checks three invariants against that ground truth (`GossipOutcome.Violation`), and each has a
/// sabotaged run that must break it (`Sabotage`).
public final class GossipEngine {
    /// Deliberate breakage, for showing that the checker catches what it should.
    public struct Sabotage: Sendable, Hashable {
        /// Every anti-entropy datagram (digest, pull, document, ack-relayed) is lost: nothing closes a gap the tree
        /// left, so a zone that was cut off during a broadcast never learns it.
        public var loseAntiEntropy: Bool
        /// The shell skips signature checks and hands forged datagrams to the machines as verified.
        public var trustForgedDatagrams: Bool
        /// The shell never sends to a member its machine holds dead (so no reconnect probe ever goes out): after a
        /// partition both sides hold each other dead for good.
        public var silenceTheDead: Bool

        public init(loseAntiEntropy: Bool = false, trustForgedDatagrams: Bool = false, silenceTheDead: Bool = false) {
            self.loseAntiEntropy = loseAntiEntropy
            self.trustForgedDatagrams = trustForgedDatagrams
            self.silenceTheDead = silenceTheDead
        }
    }

    enum AnyTimer: Hashable {
        case membership(MembershipMachine.Timer)
        case broadcast(BroadcastMachine.Timer)
    }

    struct TimerKey: Hashable {
        var node: Int32
        var timer: AnyTimer
    }

    enum Payload {
        case start(Int32)
        case datagram(to: Int32, from: Int32, GossipMessage, forged: Bool)
        case timer(Int32, AnyTimer, UInt64)
        case publish(Int)
        case nats(Int32, Int)
        case activate(Int32, Int)
        case ackAtLedger(Int32, Int)
        case kill(Int32)
        case pause(Int32)
        case resume(Int32)
        case partition(starts: Bool)
        case impostor(Int)
    }

    struct Event: Comparable {
        var time: Int64
        var seq: UInt64
        var payload: Payload

        static func < (a: Event, b: Event) -> Bool { (a.time, a.seq) < (b.time, b.seq) }
        static func == (a: Event, b: Event) -> Bool { a.seq == b.seq }
    }

    public let scenario: GossipScenario
    public let seed: UInt64
    public let sabotage: Sabotage
    let topology: Topology
    /// Nodes 0..<n are the fleet; index n is the ledger.
    let n: Int
    var ledger: Int32 { Int32(n) }
    let ids: [NodeID]
    let index: [NodeID: Int32]
    let roster: GossipRoster
    let zoneOf: [Int32]
    let rackOf: [Int32]
    let regionOf: [Int32]
    let latency: [Int64]
    let views: [[NodeID]]
    var membership: [MembershipMachine] = []
    var broadcast: [BroadcastMachine] = []
    let base = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)

    var heap = Heap<Event>()
    var sequence: UInt64 = 0
    var now: Int64 = 0
    var random: SimRandom
    var timerTokens: [TimerKey: UInt64] = [:]

    // Faults.
    var killed: [Bool]
    var paused: [Bool]
    var pausedNodes: [Int32] = []
    var killedNodes: [Int32] = []
    var hasNATS: [Bool]
    var partitionZone: Int32 = -1
    var partitionActive = false
    var resumeAt: [Int32: Int64] = [:]

    // The agent and the ledger, as ground truth.
    let ledgerKey: SigningKey
    let forgerKey: SigningKey
    var documents: [GossipDocument] = []
    var documentIndex: [Key: Int] = [:]
    var signatureCache: [Key: Bool] = [:]
    var publishedAt: [Int64] = []
    /// Per announcement, per node: when it accepted it (−1: not yet), and whether by gossip.
    var learnedAt: [[Int64]] = []
    var learnedByGossip: [[Bool]] = []
    var accepted: [Int32]
    var ownAck: [AckDigest?]
    var ackDocuments: [Key: (node: Int32, announcement: Int)] = [:]
    var ackAtLedger: [[Int64]] = []
    var acksRelayed = 0
    var duplicatesAtPublish: [Int] = []
    var graftsAtPublish: [Int] = []
    var grafts = 0
    var pulls = 0
    var hops: [[UInt16]] = []

    // Membership ground truth and figures.
    var trueIncarnation: [Incarnation]
    /// Live, reachable nodes some node's own suspicion timer declared dead (the failure detector's false positives),
    /// and those some node took to be dead from others' news (stale news after a heal, until the node refutes).
    var falselyDeclared: Set<Int32> = []
    var falselyDead: Set<Int32> = []
    var declaring = false
    var falseSuspicions = 0
    var firstDeathSeen: [Int32: Int64] = [:]
    var refutations = 0
    /// (observer << 32 | subject) pairs the observer's membership machine holds dead.
    var down: Set<Int64> = []

    // Traffic.
    var sentBytes: [Int64]
    var bytesByPlane = [Int64](repeating: 0, count: 3)
    var datagrams = 0
    var linkMessages = 0
    var dropped = 0
    var largestDatagram = 0
    var refused: [String: Int] = [:]

    // Checks.
    var violations: [GossipOutcome.Violation] = []
    public private(set) var eventsHandled = 0
    var fingerprint: UInt64 = 0xCBF2_9CE4_8422_2325

    /// - Parameter seed: the scenario's seed unless given.
    public init(scenario: GossipScenario, seed: UInt64? = nil, sabotage: Sabotage = Sabotage()) throws(SimError) {
        self.scenario = scenario
        self.seed = seed ?? scenario.seed
        self.sabotage = sabotage
        switch scenario.fleet {
        case .file(let path):
            guard let text = readTextFile(path) else {
                throw SimError(.unreadable, file: scenario.file, field: "topology.file", problem: "cannot read the topology file \(path)", fix: "check the path")
            }
            let reading = Topology.read(yaml: text, file: path)
            guard let t = reading.topology else {
                throw SimError(.topology, file: scenario.file, field: "topology.file", problem: "\(reading.errors.first.map(String.init(describing:)) ?? "invalid topology")", fix: "`benctl topology check \(path)` lists every problem")
            }
            topology = t
        case .generated(let parameters):
            topology = TopologyGenerator.generate(parameters)
        }
        n = topology.nodes.count
        var ids = topology.nodes.map(\.id)
        ids.append("ledger")
        self.ids = ids
        var index: [NodeID: Int32] = [:]
        index.reserveCapacity(n + 1)
        for (i, id) in ids.enumerated() { index[id] = Int32(i) }
        self.index = index
        // The ledger sits in its zone, in a rack of its own.
        let ledgerRack = Int32(topology.racks.count)
        zoneOf = topology.nodes.map(\.zone) + [Int32(topology.ledger.zone)]
        rackOf = topology.nodes.map(\.rack) + [ledgerRack]
        regionOf = topology.nodes.map(\.region) + [Int32(topology.ledger.region)]
        var peers: [GossipPeer] = []
        peers.reserveCapacity(n + 1)
        for i in 0...n { peers.append(GossipPeer(node: ids[i], location: GossipLocation(region: regionOf[i], zone: zoneOf[i], rack: rackOf[i]))) }
        roster = GossipRoster(peers)
        if let l = scenario.latency {
            latency = l.map { max(1, Int64(($0 * 1e9).rounded())) }
        } else {
            let links = topology.defaults.links
            latency = Tier.allCases.map { max(1, links[$0].latency.nanoseconds) }
        }
        random = SimRandom(seed: self.seed, stream: 0x6055)
        var keyRandom = SimRandom(seed: self.seed, stream: 0x4B45)
        func keySeed() -> [UInt8] { (0..<4).flatMap { _ in withUnsafeBytes(of: keyRandom.next()) { Array($0) } } }
        ledgerKey = SigningKey(seed: keySeed())!
        forgerKey = SigningKey(seed: keySeed())!
        let viewSeed = self.seed
        let roster = self.roster
        let quota = scenario.quota
        views = ids.map { PeerSelection.view(of: $0, in: roster, quota: quota, seed: viewSeed) }
        killed = [Bool](repeating: false, count: n + 1)
        paused = [Bool](repeating: false, count: n + 1)
        hasNATS = [Bool](repeating: true, count: n + 1)
        accepted = [Int32](repeating: -1, count: n + 1)
        ownAck = [AckDigest?](repeating: nil, count: n + 1)
        trueIncarnation = [Incarnation](repeating: 0, count: n + 1)
        sentBytes = [Int64](repeating: 0, count: n + 1)
        let t0 = timestamp(0)
        if scenario.membership {
            membership.reserveCapacity(n + 1)
            for i in 0...n {
                membership.append(
                    MembershipMachine(node: ids[i], fleet: topology.fleet, roster: roster, view: views[i], seed: self.seed, settings: scenario.membershipSettings, now: t0))
            }
        }
        broadcast.reserveCapacity(n + 1)
        for i in 0...n {
            broadcast.append(BroadcastMachine(node: ids[i], fleet: topology.fleet, roster: roster, view: views[i], seed: self.seed, settings: scenario.broadcastSettings))
        }
        try placeFaults()
    }

    // MARK: Time

    static func ns(_ seconds: Double) -> Int64 { Int64((seconds * 1e9).rounded()) }
    func timestamp(_ t: Int64) -> Timestamp { Timestamp(millisecondsSinceEpoch: base.millisecondsSinceEpoch + t / 1_000_000) }
    func engineTime(_ t: Timestamp) -> Int64 { (t.millisecondsSinceEpoch - base.millisecondsSinceEpoch) * 1_000_000 }

    func schedule(_ payload: Payload, at time: Int64) {
        sequence += 1
        heap.insert(Event(time: time, seq: sequence, payload: payload))
    }

    func mix(_ values: Int64...) {
        for v in values { fingerprint = (fingerprint ^ UInt64(bitPattern: v)) &* 0x0000_0100_0000_01B3 }
    }

    // MARK: The network

    func tier(_ a: Int32, _ b: Int32) -> Int {
        if rackOf[Int(a)] == rackOf[Int(b)] { return 0 }
        if zoneOf[Int(a)] == zoneOf[Int(b)] { return 1 }
        if regionOf[Int(a)] == regionOf[Int(b)] { return 2 }
        return 3
    }

    func partitioned(_ a: Int32, _ b: Int32) -> Bool {
        partitionActive && (zoneOf[Int(a)] == partitionZone) != (zoneOf[Int(b)] == partitionZone)
    }

    /// The node can publish to and hear from NATS now.
    func natsReachable(_ v: Int32) -> Bool { hasNATS[Int(v)] && !partitioned(v, ledger) && !killed[Int(v)] }

    func send(_ message: GossipMessage, from: Int32, to node: NodeID, overLink: Bool, forged: Bool = false) {
        guard let to = index[node] else { return }
        if !forged {
            let size = GossipWire.size(of: GossipDatagram(fleet: topology.fleet, sender: ids[Int(from)], message: message))
            sentBytes[Int(from)] += Int64(size)
            if overLink {
                linkMessages += 1
            } else {
                datagrams += 1
                largestDatagram = max(largestDatagram, size)
            }
            switch message {
            case .membership: bytesByPlane[0] += Int64(size)
            case .broadcast(.digest), .broadcast(.pull), .broadcast(.document), .broadcast(.ackRelayed): bytesByPlane[2] += Int64(size)
            case .broadcast: bytesByPlane[1] += Int64(size)
            }
            if case .broadcast(.graft(.some, _)) = message { grafts += 1 }
            if case .broadcast(.pull) = message { pulls += 1 }
            if scenario.wireCheck { checkWire(GossipDatagram(fleet: topology.fleet, sender: ids[Int(from)], message: message), overLink: overLink) }
        }
        if sabotage.loseAntiEntropy {
            switch message {
            case .broadcast(.digest), .broadcast(.pull), .broadcast(.document), .broadcast(.ackRelayed):
                dropped += 1
                return
            default: break
            }
        }
        if sabotage.silenceTheDead, scenario.membership, membership[Int(from)].status(of: node)?.status == .dead {
            dropped += 1
            return
        }
        if killed[Int(to)] || partitioned(from, to) || (!overLink && scenario.drop > 0 && random.unit() < scenario.drop) {
            dropped += 1
            return
        }
        var at = now + latency[tier(from, to)] * (overLink ? 3 : 1)
        if scenario.delay > 0 && random.unit() < scenario.delay { at += Self.ns(random.unit() * scenario.maxDelay) }
        schedule(.datagram(to: to, from: from, message, forged: forged), at: at)
    }

    /// Encodes and decodes a datagram, and records a violation if anything differs or it is over the bound.
    func checkWire(_ datagram: GossipDatagram, overLink: Bool) {
        let bytes = GossipWire.encode(datagram, signature: [UInt8](repeating: 0, count: GossipWire.signatureBytes))
        do {
            let decoded = try GossipWire.decode(bytes, maxBytes: overLink ? GossipWire.maxDocumentBytes + 1024 : GossipWire.defaultMaxBytes) { BLAKE2b.key(of: $0) }
            if decoded.datagram != datagram { violations.append(.init(invariant: .wire, detail: "a \(datagram.message) datagram did not survive the codec")) }
        } catch {
            violations.append(.init(invariant: .wire, detail: "\(error)"))
        }
    }

    // MARK: Running

    public func run() throws(SimError) -> GossipOutcome {
        let end = Self.ns(scenario.duration)
        for i in 0...n { schedule(.start(Int32(i)), at: i == n ? 0 : Int64(random.below(1_000_000_000))) }
        for (k, at) in scenario.announcements.enumerated() { schedule(.publish(k), at: Self.ns(at)) }
        while let event = heap.popMin() {
            if event.time > end { break }
            now = max(now, event.time)
            eventsHandled += 1
            handle(event.payload)
        }
        now = end
        return outcome()
    }

    func handle(_ payload: Payload) {
        switch payload {
        case .start(let v):
            guard !killed[Int(v)] else { return }
            if scenario.membership { apply(membership: membership[Int(v)].handle(.start, now: timestamp(now)), at: v) }
            apply(broadcast: broadcast[Int(v)].handle(.start, now: timestamp(now)), at: v)
            // The agent tells gossip its version state (and whether NATS is up) when it starts.
            updateLocal(v)
        case .datagram(let to, let from, let message, let forged):
            guard !killed[Int(to)] else { return }
            guard !paused[Int(to)] else {
                dropped += 1
                return
            }
            mix(now, Int64(to), Int64(from))
            let authentication: GossipAuthentication = forged && !sabotage.trustForgedDatagrams ? .refused("signature does not verify") : .verified
            switch message {
            case .membership(let m):
                guard scenario.membership else { return }
                let before = forged ? snapshot(to, m) : []
                apply(membership: membership[Int(to)].handle(.received(from: ids[Int(from)], m, authentication), now: timestamp(now)), at: to)
                if forged { checkForged(to, m, before) }
            case .broadcast(let b):
                apply(broadcast: broadcast[Int(to)].handle(.received(from: ids[Int(from)], b, authentication), now: timestamp(now)), at: to)
            }
        case .timer(let v, let timer, let token):
            let key = TimerKey(node: v, timer: timer)
            guard timerTokens[key] == token, !killed[Int(v)] else { return }
            if paused[Int(v)] {
                // A stopped process's timers fire when it continues.
                schedule(payload, at: resumeAt[v] ?? now)
                return
            }
            timerTokens[key] = nil
            switch timer {
            case .membership(let t):
                if case .suspicion = t { declaring = true }
                apply(membership: membership[Int(v)].handle(.timerFired(t), now: timestamp(now)), at: v)
                declaring = false
            case .broadcast(let t): apply(broadcast: broadcast[Int(v)].handle(.timerFired(t), now: timestamp(now)), at: v)
            }
        case .publish(let k):
            publish(k)
        case .nats(let v, let k):
            guard !killed[Int(v)] else { return }
            if paused[Int(v)] || partitioned(v, ledger) {
                schedule(payload, at: paused[Int(v)] ? (resumeAt[v] ?? now) : partitionEnd)
                return
            }
            apply(broadcast: broadcast[Int(v)].handle(.learned(documents[k]), now: timestamp(now)), at: v)
            accept(k, at: v, byGossip: false)
        case .activate(let v, let k):
            guard !killed[Int(v)] else { return }
            if paused[Int(v)] {
                schedule(payload, at: resumeAt[v] ?? now)
                return
            }
            activate(k, at: v)
        case .ackAtLedger(let v, let k):
            if ackAtLedger[k][Int(v)] < 0 { ackAtLedger[k][Int(v)] = now }
        case .kill(let v):
            killed[Int(v)] = true
            mix(now, -1, Int64(v))
        case .pause(let v):
            paused[Int(v)] = true
        case .resume(let v):
            paused[Int(v)] = false
            updateLocal(v)
        case .partition(let starts):
            partitionActive = starts
            // Nodes of the zone lose NATS with the rest of the world, and get it back.
            for v in 0..<n where zoneOf[v] == partitionZone && !killed[v] { updateLocal(Int32(v)) }
            if !starts {
                for v in 0..<n where zoneOf[v] == partitionZone && !killed[v] { retryAck(Int32(v)) }
            }
        case .impostor(let k):
            impostor(k)
        }
    }

    var partitionEnd: Int64 { scenario.partition.map { Self.ns($0.until) } ?? now }

    // MARK: Carrying actions out

    func arm(_ timer: AnyTimer, at: Timestamp, node: Int32) {
        sequence += 1
        timerTokens[TimerKey(node: node, timer: timer)] = sequence
        schedule(.timer(node, timer, sequence), at: max(now, engineTime(at)))
    }

    func apply(membership actions: [MembershipMachine.Action], at v: Int32) {
        for action in actions {
            switch action {
            case .send(let to, let message):
                send(.membership(message), from: v, to: to, overLink: false)
            case .armTimer(let timer, let at):
                arm(.membership(timer), at: at, node: v)
            case .cancelTimer(let timer):
                timerTokens[TimerKey(node: v, timer: .membership(timer))] = nil
            case .memberChanged(let change):
                memberChanged(change, observer: v)
            case .refused(_, let reason):
                refused[reason.hasSuffix("is not in the topology") ? "sender not in the topology" : reason, default: 0] += 1
            }
        }
        trueIncarnation[Int(v)] = max(trueIncarnation[Int(v)], membership[Int(v)].incarnation)
    }

    func apply(broadcast actions: [BroadcastMachine.Action], at v: Int32) {
        for action in actions {
            switch action {
            case .send(let to, let message):
                send(.broadcast(message), from: v, to: to, overLink: false)
            case .sendOverLink(let to, let message):
                send(.broadcast(message), from: v, to: to, overLink: true)
            case .armTimer(let timer, let at):
                arm(.broadcast(timer), at: at, node: v)
            case .cancelTimer(let timer):
                timerTokens[TimerKey(node: v, timer: .broadcast(timer))] = nil
            case .deliver(let document, _):
                delivered(document, at: v)
            case .publishAck(let document):
                guard let (owner, k) = ackDocuments[document.id] else { continue }
                acksRelayed += 1
                let at = now + latency[tier(v, ledger)]
                schedule(.ackAtLedger(owner, k), at: partitioned(v, ledger) ? max(at, partitionEnd) : at)
            case .ackDelivered:
                break
            case .refused(_, let reason):
                refused[reason.hasSuffix("is not in the topology") ? "sender not in the topology" : reason, default: 0] += 1
            }
        }
    }

    func memberChanged(_ change: MemberChange, observer v: Int32) {
        guard let subject = index[change.node] else { return }
        mix(now, Int64(v), Int64(subject), Int64(change.incarnation))
        if subject == v {
            refutations += 1
            return
        }
        let live = !killed[Int(subject)] && !paused[Int(subject)] && !partitioned(v, subject)
        switch change.status {
        case .dead:
            if live && declaring { falselyDeclared.insert(subject) } else if live { falselyDead.insert(subject) }
            if firstDeathSeen[subject] == nil { firstDeathSeen[subject] = now }
            down.insert(Int64(v) << 32 | Int64(subject))
            apply(broadcast: broadcast[Int(v)].handle(.neighborDown(change.node), now: timestamp(now)), at: v)
        case .suspect:
            if live { falseSuspicions += 1 }
        case .alive:
            // Back from dead (not merely from suspect): the broadcast machine takes it as a neighbour again.
            if down.remove(Int64(v) << 32 | Int64(subject)) != nil {
                apply(broadcast: broadcast[Int(v)].handle(.neighborUp(change.node), now: timestamp(now)), at: v)
            }
        }
    }
}
