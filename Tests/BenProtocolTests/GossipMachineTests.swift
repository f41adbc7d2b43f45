import BenCore
import BenProtocol
import Testing

/// A handful of `GossipMachine`s on a fake clock: every message `latency` late, nodes that can be silenced (crashed or
/// stopped). What each machine hands its shell beyond sending and timers is kept in `events`.
struct GossipMachineNet {
    enum Event {
        case message(to: NodeID, from: NodeID, GossipMessage)
        case timer(NodeID, GossipMachine.Timer, Int)
    }

    var now = GossipFixtures.t0
    var nodes: [NodeID: GossipMachine] = [:]
    var queue: [(at: Timestamp, seq: Int, event: Event)] = []
    var seq = 0
    var tokens: [NodeID: [GossipMachine.Timer: Int]] = [:]
    var silent: Set<NodeID> = []
    var latency: Duration = .milliseconds(1)
    /// Everything but sends and timers, by the node that decided it.
    var events: [(at: Timestamp, node: NodeID, action: GossipMachine.Action)] = []
    var sent: [(at: Timestamp, from: NodeID, to: NodeID, message: GossipMessage)] = []

    init(_ names: [String], ledger: String? = nil) {
        let roster = GossipFixtures.flat(names + (ledger.map { [$0] } ?? []))
        for peer in roster.peers {
            let role: GossipMachine.Role = peer.node.rawValue == ledger ? .ledger : .agent
            nodes[peer.node] = GossipMachine(
                node: peer.node, fleet: GossipFixtures.fleet, roster: roster, role: role, seed: 7, viewSeed: 11, now: now)
        }
    }

    mutating func startAll() {
        for id in nodes.keys.sorted() { handle(id, .start) }
    }

    mutating func handle(_ node: NodeID, _ input: GossipMachine.Input) {
        apply(nodes[node]!.handle(input, now: now), at: node)
    }

    mutating func apply(_ actions: [GossipMachine.Action], at node: NodeID) {
        for action in actions {
            switch action {
            case .send(let to, let message):
                deliver(message, from: node, to: to)
            case .sendOverLink(let to, let message):
                deliver(.broadcast(message), from: node, to: to)
            case .armTimer(let timer, let at):
                seq += 1
                tokens[node, default: [:]][timer] = seq
                queue.append((max(at, now), seq, .timer(node, timer, seq)))
            case .cancelTimer(let timer):
                tokens[node]?[timer] = nil
            default:
                events.append((now, node, action))
            }
        }
    }

    mutating func deliver(_ message: GossipMessage, from: NodeID, to: NodeID) {
        sent.append((now, from, to, message))
        guard !silent.contains(from), !silent.contains(to) else { return }
        seq += 1
        queue.append((now + latency, seq, .message(to: to, from: from, message)))
    }

    mutating func run(for duration: Duration) {
        let until = now + duration
        while let i = queue.indices.min(by: { (queue[$0].at, queue[$0].seq) < (queue[$1].at, queue[$1].seq) }), queue[i].at <= until {
            let (at, _, event) = queue.remove(at: i)
            now = at
            switch event {
            case .message(let to, let from, let message):
                guard !silent.contains(to) else { continue }
                handle(to, .received(from: from, message, .verified))
            case .timer(let node, let timer, let token):
                guard tokens[node]?[timer] == token else { continue }
                tokens[node]![timer] = nil
                if silent.contains(node) {
                    // A stopped process's timers fire when it continues: keep its loops armed.
                    apply([.armTimer(timer, at: now + .seconds(1))], at: node)
                    continue
                }
                handle(node, .timerFired(timer))
            }
        }
        now = until
    }

    func changes(seenBy observer: String, about member: String) -> [MemberStatus] {
        events.compactMap { event in
            guard event.node.rawValue == observer, case .memberChanged(let change) = event.action, change.node.rawValue == member else { return nil }
            return change.status
        }
    }

    func gossipPushes(from sender: String, to member: String, after: Timestamp) -> [GossipDocument] {
        sent.compactMap { entry in
            guard entry.at >= after, entry.from.rawValue == sender, entry.to.rawValue == member, case .broadcast(.gossip(let document, _)) = entry.message else { return nil }
            return document
        }
    }
}

/// The gossip machine: both inner machines and what passes between them and the node's version state.
@Suite struct GossipMachineTests {
    static func ack(_ tag: UInt8) -> GossipDocument { GossipFixtures.document(tag, kind: .ack, size: 330) }

    /// Membership feeds broadcast: a node declared dead gets no eager pushes; once it refutes, it is eager again.
    @Test func aMemberDeclaredDeadIsPushedNothingAndIsPushedToAgainOnceItIsBack() {
        var net = GossipMachineNet(["a", "b", "c", "d"])
        net.startAll()
        net.run(for: .seconds(5))
        net.silent = ["d"]
        net.run(for: .seconds(60))
        #expect(net.changes(seenBy: "a", about: "d").last == .dead, "a holds d dead: \(net.changes(seenBy: "a", about: "d"))")

        let deadSince = net.now
        net.handle("a", .broadcast(GossipFixtures.document(1)))
        net.run(for: .seconds(2))
        #expect(net.gossipPushes(from: "a", to: "d", after: deadSince).isEmpty, "nothing is pushed to a dead member")
        #expect(net.gossipPushes(from: "a", to: "b", after: deadSince).count + net.gossipPushes(from: "a", to: "c", after: deadSince).count >= 1)

        net.silent = []
        net.run(for: .seconds(30))
        #expect(net.changes(seenBy: "a", about: "d").last == .alive, "d refuted: \(net.changes(seenBy: "a", about: "d"))")
        let backSince = net.now
        net.handle("a", .broadcast(GossipFixtures.document(2)))
        net.run(for: .seconds(2))
        #expect(net.gossipPushes(from: "a", to: "d", after: backSince).map(\.id) == [GossipFixtures.document(2).id], "d is an eager neighbour again")
    }

    /// The ack of a node without NATS is pulled by a peer that has NATS, published, and its owner told who did it.
    @Test func theAckOfANodeWithoutNATSReachesTheLedgerThroughAPeerThatHasIt() {
        var net = GossipMachineNet(["a", "b"])
        net.startAll()
        net.handle("b", .versionState(.init(highestAccepted: 2, active: 2, natsConnected: true)))
        net.handle("a", .versionState(.init(highestAccepted: 2, active: 2, ack: Self.ack(9), ackVersion: 2, natsConnected: false)))
        #expect(net.nodes["a"]!.digest.ack?.delivered == false)
        net.run(for: .seconds(3))
        let published = net.events.filter { if case .publishAck(let d) = $0.action { $0.node == "b" && d == Self.ack(9) } else { false } }
        #expect(published.count == 1, "b publishes a's ack once: \(net.events.map(\.action))")
        let told = net.events.contains { if case .ackDelivered(Self.ack(9).id, by: "b") = $0.action { $0.node == "a" } else { false } }
        #expect(told, "a hears that b published its ack")
        #expect(net.nodes["a"]!.digest.ack?.delivered == true)
    }

    /// A node that had NATS when it signed sends its ack itself: its digest says the ledger has it, and no peer
    /// publishes it.
    @Test func anAckSignedWithNATSIsNeverOfferedToPeers() {
        var net = GossipMachineNet(["a", "b"])
        net.startAll()
        net.handle("b", .versionState(.init(highestAccepted: 2, active: 2, natsConnected: true)))
        net.handle("a", .versionState(.init(highestAccepted: 2, active: 2, ack: Self.ack(9), ackVersion: 2, natsConnected: true)))
        #expect(net.nodes["a"]!.digest.ack?.delivered == true)
        net.run(for: .seconds(10))
        #expect(!net.events.contains { if case .publishAck = $0.action { true } else { false } }, "\(net.events.map(\.action))")
    }

    /// With no peer that reaches the ledger, the ack waits; when the node's own NATS comes back it publishes the ack
    /// itself, once.
    @Test func aNodeThatGetsNATSBackPublishesTheAckNoPeerTook() {
        var net = GossipMachineNet(["a", "b"])
        net.startAll()
        net.handle("b", .versionState(.init(highestAccepted: 2, active: 2, natsConnected: false)))
        let offline = GossipMachine.VersionState(highestAccepted: 2, active: 2, ack: Self.ack(9), ackVersion: 2, natsConnected: false)
        net.handle("a", .versionState(offline))
        net.run(for: .seconds(10))
        #expect(!net.events.contains { if case .publishAck = $0.action { true } else { false } }, "nobody can publish it yet")
        var online = offline
        online.natsConnected = true
        net.handle("a", .versionState(online))
        net.handle("a", .versionState(offline))
        net.handle("a", .versionState(online))
        let own = net.events.filter { if case .publishAck(Self.ack(9)) = $0.action { $0.node == "a" } else { false } }
        #expect(own.count == 1, "published once, however often NATS comes and goes: \(own.count)")
        #expect(net.nodes["a"]!.digest.ack?.delivered == true)
    }

    /// What a peer last said in a digest is kept, with when it said it: how an operator sees what a node last heard.
    @Test func eachPeersLastDigestIsKept() {
        var net = GossipMachineNet(["a", "b"])
        net.startAll()
        net.handle("b", .versionState(.init(highestAccepted: 5, announcement: GossipFixtures.document(5), active: 4, natsConnected: false)))
        net.run(for: .seconds(6))
        let heard = net.nodes["a"]!.heard["b"]
        #expect(heard?.digest.highestAccepted == 5)
        #expect(heard?.digest.active == 4)
        #expect(heard?.digest.ledgerReachable == false)
    }

    /// The ledger keeps a record of every member it hears of, and reaches the ledger by definition: a node's
    /// undelivered ack offered to it is taken.
    @Test func theLedgerKeepsEveryMemberAndTakesUndeliveredAcks() {
        var net = GossipMachineNet(["a"], ledger: "ledger")
        net.startAll()
        #expect(net.nodes["ledger"]!.membership.settings.retainEveryMember)
        #expect(net.nodes["ledger"]!.digest.ledgerReachable)
        net.handle("a", .versionState(.init(highestAccepted: 1, active: 1, ack: Self.ack(3), ackVersion: 1, natsConnected: false)))
        net.run(for: .seconds(3))
        #expect(net.events.contains { if case .publishAck(Self.ack(3)) = $0.action { $0.node == "ledger" } else { false } })
    }

    /// A datagram the shell refused changes nothing: one `.refused`, no reply, no record of its sender.
    @Test func aRefusedDatagramChangesNothing() {
        var machine = GossipMachine(
            node: "a", fleet: GossipFixtures.fleet, roster: GossipFixtures.flat(["a", "b"]), role: .agent, seed: 1, viewSeed: 1, now: GossipFixtures.t0)
        let ping = GossipMessage.membership(.ping(sequence: 1, incarnation: 9, updates: []))
        let actions = machine.handle(.received(from: "b", ping, .refused("bad signature")), now: GossipFixtures.t0)
        #expect(actions == [.refused(from: "b", reason: "bad signature")])
        #expect(machine.membership.status(of: "b")?.incarnation == 0)
        let digest = GossipMessage.broadcast(.digest(VersionDigest(highestAccepted: 9), reply: false))
        #expect(machine.handle(.received(from: "b", digest, .refused("bad signature")), now: GossipFixtures.t0).count == 1)
        #expect(machine.heard["b"] == nil, "a refused digest is not what b said")
    }
}
