import BenCore
import BenProtocol

/// Rosters, documents and a small deterministic network for the gossip machines' tests.
enum GossipFixtures {
    static let fleet = FleetName("demo")!
    static let t0 = Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)

    /// `regions` × `zones` × `racks` × `perRack` nodes named `r<g>z<z>k<k>-<i>`; zone and rack indices are fleet-wide.
    static func roster(regions: Int = 1, zones: Int = 1, racks: Int = 1, perRack: Int) -> GossipRoster {
        var peers: [GossipPeer] = []
        for g in 0..<regions {
            for z in 0..<zones {
                for k in 0..<racks {
                    let zone = g * zones + z
                    let rack = zone * racks + k
                    for i in 0..<perRack {
                        peers.append(
                            GossipPeer(node: NodeID("r\(g)z\(z)k\(k)-\(i)")!, location: GossipLocation(region: Int32(g), zone: Int32(zone), rack: Int32(rack))))
                    }
                }
            }
        }
        return GossipRoster(peers)
    }

    /// A roster of plain names `a`, `b`, … in one rack.
    static func flat(_ names: [String]) -> GossipRoster {
        GossipRoster(names.map { GossipPeer(node: NodeID($0)!, location: GossipLocation(region: 0, zone: 0, rack: 0)) })
    }

    /// A stand-in document: the id is derived from the bytes by a toy hash (the machines never hash; the shell does).
    static func document(_ tag: UInt8, kind: DocumentKind = .announcement, size: Int = 600) -> GossipDocument {
        let bytes = [UInt8](repeating: tag, count: size)
        return GossipDocument(id: toyID(bytes), kind: kind, bytes: bytes)
    }

    static func toyID(_ bytes: [UInt8]) -> Key {
        var words: [UInt64] = [0xCBF2_9CE4_8422_2325, 0x1234, 0x5678, 0x9ABC]
        for (i, b) in bytes.enumerated() {
            words[i % 4] = (words[i % 4] ^ UInt64(b)) &* 0x0000_0100_0000_01B3
        }
        words[0] ^= UInt64(bytes.count)
        return Key(digest: words.flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (56 - 8 * UInt64($0))) } })
    }

    static func ms(_ n: Int64) -> Duration { .milliseconds(n) }
}

/// A deterministic network for a handful of gossip nodes: a fake clock, one event queue ordered by (time, sequence),
/// every datagram `latency` late, and links that can be cut. It runs the machines' `handle` and carries their
/// actions out (the third shell, in miniature); membership status changes feed the broadcast machine as a shell
/// would.
struct GossipTestNet {
    enum Event {
        case membership(to: NodeID, from: NodeID, MembershipMessage)
        case broadcast(to: NodeID, from: NodeID, BroadcastMessage)
        case membershipTimer(NodeID, MembershipMachine.Timer, Int)
        case broadcastTimer(NodeID, BroadcastMachine.Timer, Int)
    }

    var now: Timestamp
    var membership: [NodeID: MembershipMachine] = [:]
    var broadcast: [NodeID: BroadcastMachine] = [:]
    var queue: [(at: Timestamp, seq: Int, event: Event)] = []
    var seq = 0
    var latency: Duration = .milliseconds(1)
    /// Nodes that neither send nor receive (crashed, or SIGSTOPped).
    var silent: Set<NodeID> = []
    /// Directed links that drop everything.
    var cut: Set<[NodeID]> = []
    var membershipTokens: [NodeID: [MembershipMachine.Timer: Int]] = [:]
    var broadcastTokens: [NodeID: [BroadcastMachine.Timer: Int]] = [:]
    var changes: [(at: Timestamp, observer: NodeID, MemberChange)] = []
    var delivered: [(at: Timestamp, node: NodeID, document: GossipDocument)] = []
    var sent: [(from: NodeID, to: NodeID, GossipMessage)] = []
    var largest = 0

    init(roster: GossipRoster, views: [NodeID: [NodeID]], membership membershipSettings: MembershipMachine.Settings? = nil,
        broadcast broadcastSettings: BroadcastMachine.Settings? = nil, seed: UInt64 = 1)
    {
        now = GossipFixtures.t0
        for peer in roster.peers {
            let view = views[peer.node] ?? []
            if let settings = membershipSettings {
                membership[peer.node] = MembershipMachine(
                    node: peer.node, fleet: GossipFixtures.fleet, roster: roster, view: view, seed: seed, settings: settings, now: now)
            }
            if let settings = broadcastSettings {
                broadcast[peer.node] = BroadcastMachine(node: peer.node, fleet: GossipFixtures.fleet, roster: roster, view: view, seed: seed, settings: settings)
            }
        }
    }

    mutating func startAll() {
        for id in membership.keys.sorted() { apply(membership: membership[id]!.handle(.start, now: now), at: id) }
        for id in broadcast.keys.sorted() { apply(broadcast: broadcast[id]!.handle(.start, now: now), at: id) }
    }

    mutating func schedule(_ event: Event, at: Timestamp) {
        seq += 1
        queue.append((at, seq, event))
    }

    func linkDown(_ a: NodeID, _ b: NodeID) -> Bool { silent.contains(a) || silent.contains(b) || cut.contains([a, b]) }

    mutating func apply(membership actions: [MembershipMachine.Action], at node: NodeID) {
        for action in actions {
            switch action {
            case .send(let to, let message):
                record(from: node, to: to, .membership(message))
                if !linkDown(node, to) { schedule(.membership(to: to, from: node, message), at: now + latency) }
            case .armTimer(let timer, let at):
                seq += 1
                membershipTokens[node, default: [:]][timer] = seq
                queue.append((max(at, now), seq, .membershipTimer(node, timer, seq)))
            case .cancelTimer(let timer):
                membershipTokens[node]?[timer] = nil
            case .memberChanged(let change):
                changes.append((now, node, change))
                if change.node != node, broadcast[node] != nil {
                    let input: BroadcastMachine.Input = change.status == .dead ? .neighborDown(change.node) : .neighborUp(change.node)
                    if change.status != .suspect { apply(broadcast: broadcast[node]!.handle(input, now: now), at: node) }
                }
            case .refused:
                break
            }
        }
    }

    mutating func apply(broadcast actions: [BroadcastMachine.Action], at node: NodeID) {
        for action in actions {
            switch action {
            case .send(let to, let message), .sendOverLink(let to, let message):
                record(from: node, to: to, .broadcast(message))
                if !linkDown(node, to) { schedule(.broadcast(to: to, from: node, message), at: now + latency) }
            case .armTimer(let timer, let at):
                seq += 1
                broadcastTokens[node, default: [:]][timer] = seq
                queue.append((max(at, now), seq, .broadcastTimer(node, timer, seq)))
            case .cancelTimer(let timer):
                broadcastTokens[node]?[timer] = nil
            case .deliver(let document, _):
                delivered.append((now, node, document))
            case .publishAck, .ackDelivered, .refused:
                break
            }
        }
    }

    mutating func record(from: NodeID, to: NodeID, _ message: GossipMessage) {
        sent.append((from, to, message))
        largest = max(largest, GossipWire.size(of: GossipDatagram(fleet: GossipFixtures.fleet, sender: from, message: message)))
    }

    /// Runs events up to `until`.
    mutating func run(until: Timestamp) {
        while true {
            guard let i = queue.indices.min(by: { (queue[$0].at, queue[$0].seq) < (queue[$1].at, queue[$1].seq) }), queue[i].at <= until else { break }
            let (at, _, event) = queue.remove(at: i)
            now = at
            switch event {
            case .membership(let to, let from, let message):
                guard !silent.contains(to), membership[to] != nil else { continue }
                apply(membership: membership[to]!.handle(.received(from: from, message, .verified), now: now), at: to)
            case .broadcast(let to, let from, let message):
                guard !silent.contains(to), broadcast[to] != nil else { continue }
                apply(broadcast: broadcast[to]!.handle(.received(from: from, message, .verified), now: now), at: to)
            case .membershipTimer(let node, let timer, let token):
                guard membershipTokens[node]?[timer] == token else { continue }
                membershipTokens[node]![timer] = nil
                guard !silent.contains(node) else {
                    // A paused process's timers fire late, when it resumes: keep the probe loop alive.
                    if case .probe = timer { apply(membership: [.armTimer(.probe, at: now + .seconds(1))], at: node) }
                    continue
                }
                apply(membership: membership[node]!.handle(.timerFired(timer), now: now), at: node)
            case .broadcastTimer(let node, let timer, let token):
                guard broadcastTokens[node]?[timer] == token else { continue }
                broadcastTokens[node]![timer] = nil
                guard !silent.contains(node) else {
                    if case .antiEntropy = timer { apply(broadcast: [.armTimer(.antiEntropy, at: now + .seconds(2))], at: node) }
                    continue
                }
                apply(broadcast: broadcast[node]!.handle(.timerFired(timer), now: now), at: node)
            }
        }
        now = max(now, until)
    }

    mutating func run(for duration: Duration) { run(until: now + duration) }

    /// Every node's view of `member`, from the nodes that hold a record of it.
    func opinions(of member: NodeID) -> [NodeID: MemberStatus] {
        var out: [NodeID: MemberStatus] = [:]
        for (id, m) in membership where id != member { if let s = m.status(of: member) { out[id] = s.status } }
        return out
    }
}
