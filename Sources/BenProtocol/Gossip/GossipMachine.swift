public import BenCore

/// A node's gossip as one machine: its `MembershipMachine` and its `BroadcastMachine`, what passes between them, and
/// how the node's version state becomes the digest that anti-entropy exchanges (DESIGN §9). The shells (the agent's
/// and the ledger's datagram channel) drive this machine, never the two apart, so that every decision between them
/// is made here and the shells only carry actions out.
///
/// - **Membership feeds broadcast.** A member declared dead is pushed nothing more (`neighborDown`); one that comes
///   back from the dead is an eager neighbour again (`neighborUp`), as Plumtree does.
/// - **Version state.** The shell hands in the node's `VersionState` whenever it changes: its highest accepted
///   announcement, the version it runs, its newest signed ack and whether it reaches NATS. The announcement and the
///   ack are kept for grafts and pulls. The digest says the ledger has the ack when the node had NATS as it signed
///   it (it sends the ack itself, up the tree or over NATS), or once a peer said it published it; until then peers
///   that reach the ledger pull the ack and publish it. A node that gets NATS back while it holds an ack no peer
///   took publishes that ack itself (`.publishAck`): acks are idempotent at the ledger.
/// - **Revocations.** The ledger's revocations the node keeps come with the version state: kept for pulls for good,
///   and named in the digest (`RevocationDigest`), so a peer that lacks one pulls it.
/// - **What each peer last said.** Every digest a peer sends is kept with when it came (`heard`), so an operator can
///   see what each node last heard of (`benctl members`).
///
/// A caller may rely on: a refused datagram changes nothing and yields `.refused`; a member is reported dead at
/// most once per death (`.memberChanged`), and the broadcast machine stops pushing to it in the same step.
public struct GossipMachine: Sendable {
    /// The inner machines' settings and the view's size.
    public struct Settings: Sendable, Hashable {
        /// Probing, suspicion and piggybacking (docs/gossip.md, membership settings).
        public var membership = MembershipMachine.Settings()
        /// Pushing, IHAVEs, grafts and anti-entropy (docs/gossip.md, broadcast settings).
        public var broadcast = BroadcastMachine.Settings()
        /// The view's size per tier (`PeerSelection`): 4 + 4 + 3 + 3 by default.
        public var quota = PeerSelection.Quota()

        /// The defaults docs/gossip.md lists.
        public init() {}
    }

    /// What the node is in the fleet.
    public enum Role: Sendable, Hashable {
        /// A node of the topology.
        case agent
        /// The ledger: it keeps a record of every member (`retainEveryMember`), originates announcements, and reaches
        /// the ledger by definition, so every ack it pulls is published.
        case ledger
    }

    /// The node's version state, as its shell sees it; only signed documents ever change it.
    public struct VersionState: Sendable, Hashable {
        /// The highest version whose announcement the node accepted.
        public var highestAccepted: Version
        /// That announcement, signed, when the node holds it.
        public var announcement: GossipDocument?
        /// The version it runs.
        public var active: Version
        /// Its newest signed answer (an ack, or a refusal) and the version it is about.
        public var ack: GossipDocument?
        /// The version `ack` is about.
        public var ackVersion: Version
        /// It is connected to NATS now.
        public var natsConnected: Bool
        /// The ledger's signed revocations the node keeps.
        public var revocations: [GossipDocument]
        /// Their digest, as the shell computed it (nil with none).
        public var revocationDigest: RevocationDigest?

        /// A state; the defaults are a node that has accepted nothing, runs nothing and has no NATS.
        public init(
            highestAccepted: Version = .none, announcement: GossipDocument? = nil, active: Version = .none, ack: GossipDocument? = nil,
            ackVersion: Version = .none, natsConnected: Bool = false, revocations: [GossipDocument] = [],
            revocationDigest: RevocationDigest? = nil
        ) {
            self.revocations = revocations
            self.revocationDigest = revocationDigest
            self.highestAccepted = highestAccepted
            self.announcement = announcement
            self.active = active
            self.ack = ack
            self.ackVersion = ackVersion
            self.natsConnected = natsConnected
        }
    }

    /// What the shell hands the machine.
    public enum Input: Sendable, Hashable {
        /// Begin probing and exchanging digests.
        case start
        /// A datagram (or a document over a peer link) from `from`, with the shell's verdict on its signatures.
        case received(from: NodeID, GossipMessage, GossipAuthentication)
        /// A timer the machine armed fired.
        case timerFired(Timer)
        /// The node's version state changed.
        case versionState(VersionState)
        /// Broadcast a document this node originates (the ledger's announcements).
        case broadcast(GossipDocument)
        /// A document the node got another way (an announcement over NATS or in a parent's HELLO).
        case learned(GossipDocument)
        /// Members to probe besides the view: a relay's plan parents and children.
        case watch([NodeID])
    }

    /// What the machine asks its shell to do, in order.
    public enum Action: Sendable, Hashable {
        /// Sign this message with the node's key and send it as one datagram.
        case send(to: NodeID, GossipMessage)
        /// Sign this message and send it over a peer link: its document does not fit a datagram.
        case sendOverLink(to: NodeID, BroadcastMessage)
        /// Fire `timer` at that time.
        case armTimer(Timer, at: Timestamp)
        /// Forget `timer`.
        case cancelTimer(Timer)
        /// A document new to this node, for the agent (or the ledger) to act on as if it had come over NATS.
        case deliver(GossipDocument, from: NodeID)
        /// Publish this signed ack on NATS toward the ledger: a peer's that cannot reach it, or this node's own once
        /// NATS is back.
        case publishAck(GossipDocument)
        /// This node's own ack reached the ledger: `by` published it.
        case ackDelivered(Key, by: NodeID)
        /// A member's status changed as this node sees it (this node's own refutations included).
        case memberChanged(MemberChange)
        /// A datagram was refused and changed nothing.
        case refused(from: NodeID, reason: String)
    }

    /// The gossip machine's timers: each inner machine's, kept apart.
    public enum Timer: Sendable, Hashable, CustomStringConvertible {
        /// The membership machine's.
        case membership(MembershipMachine.Timer)
        /// The broadcast machine's.
        case broadcast(BroadcastMachine.Timer)

        /// For logs.
        public var description: String {
            switch self {
            case .membership(let t): "membership \(t)"
            case .broadcast(let t): "broadcast \(t)"
            }
        }
    }

    /// A peer's digest and when it arrived.
    public struct Heard: Sendable, Hashable {
        /// What the peer said.
        public var digest: VersionDigest
        /// When it arrived, on this node's clock.
        public var at: Timestamp
    }

    /// This node.
    public let node: NodeID
    /// What it is in the fleet.
    public let role: Role
    /// Its membership machine (read-only: inputs go through this machine).
    public private(set) var membership: MembershipMachine
    /// Its broadcast machine (read-only: inputs go through this machine).
    public private(set) var broadcast: BroadcastMachine
    /// The version state last handed in.
    public private(set) var state = VersionState()
    /// Whether the ledger has this node's own ack (see the type's summary).
    public private(set) var ownAckDelivered = false
    /// Members membership holds dead, which broadcast pushes nothing to.
    var down: Set<NodeID> = []
    /// Every peer's last digest.
    public private(set) var heard: [NodeID: Heard] = [:]

    /// - Parameters:
    ///   - seed: seeds every random choice the machines make (probe order, helpers, partners, jitter).
    ///   - viewSeed: seeds the choice of views; the same for every node of a fleet, so any node can tell whose view
    ///     a member is in.
    public init(
        node: NodeID, fleet: FleetName, roster: GossipRoster, role: Role, seed: UInt64, viewSeed: UInt64, settings: Settings = Settings(),
        now: Timestamp
    ) {
        self.node = node
        self.role = role
        let view = PeerSelection.view(of: node, in: roster, quota: settings.quota, seed: viewSeed)
        var membershipSettings = settings.membership
        if role == .ledger { membershipSettings.retainEveryMember = true }
        membership = MembershipMachine(
            node: node, fleet: fleet, roster: roster, view: view, seed: seed, settings: membershipSettings, now: now)
        broadcast = BroadcastMachine(node: node, fleet: fleet, roster: roster, view: view, seed: seed, settings: settings.broadcast)
        if role == .ledger { state.natsConnected = true }
    }

    /// The one entry point; each case goes to its `on…` method.
    public mutating func handle(_ input: Input, now: Timestamp) -> [Action] {
        switch input {
        case .start: onStart(now: now)
        case .received(let from, let message, let authentication): onReceived(message, from: from, authentication: authentication, now: now)
        case .timerFired(let timer): onTimer(timer, now: now)
        case .versionState(let state): onVersionState(state, now: now)
        case .broadcast(let document): lift(broadcast.handle(.broadcast(document), now: now), now: now)
        case .learned(let document): lift(broadcast.handle(.learned(document), now: now), now: now)
        case .watch(let nodes): lift(membership.handle(.watch(nodes), now: now), now: now)
        }
    }

    // MARK: Queries

    /// The members this node holds a record of (`MembershipMachine.members`).
    public var members: [MemberInfo] { membership.members }

    /// The digest this node sends its peers.
    public var digest: VersionDigest {
        VersionDigest(
            highestAccepted: state.highestAccepted, announcement: state.announcement?.id, active: state.active,
            ack: state.ack.map { AckDigest(version: state.ackVersion, id: $0.id, delivered: ownAckDelivered) },
            ledgerReachable: state.natsConnected || role == .ledger, revocations: state.revocationDigest)
    }

    // MARK: Inputs

    /// Arms both machines' first timers and tells broadcast the version state.
    ///
    /// A caller may rely on: nothing is sent.
    public mutating func onStart(now: Timestamp) -> [Action] {
        var actions = lift(membership.handle(.start, now: now), now: now)
        actions += lift(broadcast.handle(.start, now: now), now: now)
        actions += lift(broadcast.handle(.localState(digest), now: now), now: now)
        return actions
    }

    /// A message arrived. A digest from an authenticated member of the roster is kept as what that peer last said.
    public mutating func onReceived(_ message: GossipMessage, from sender: NodeID, authentication: GossipAuthentication, now: Timestamp)
        -> [Action]
    {
        switch message {
        case .membership(let m):
            return lift(membership.handle(.received(from: sender, m, authentication), now: now), now: now)
        case .broadcast(let b):
            if case .digest(let d, _) = b, authentication == .verified, sender != node, broadcast.roster.contains(sender) {
                heard[sender] = Heard(digest: d, at: now)
            }
            return lift(broadcast.handle(.received(from: sender, b, authentication), now: now), now: now, from: sender)
        }
    }

    /// A timer fired: it goes to the inner machine that armed it.
    public mutating func onTimer(_ timer: Timer, now: Timestamp) -> [Action] {
        switch timer {
        case .membership(let t): lift(membership.handle(.timerFired(t), now: now), now: now)
        case .broadcast(let t): lift(broadcast.handle(.timerFired(t), now: now), now: now)
        }
    }

    /// The node's version state changed: new documents are kept for pulls, the digest is updated, and an ack no peer
    /// took is published by the node itself once it has NATS again.
    ///
    /// A caller may rely on: an ack signed while the node had NATS is never offered to peers (its digest says the
    /// ledger has it); `.publishAck` of the node's own ack comes at most once per ack.
    public mutating func onVersionState(_ new: VersionState, now: Timestamp) -> [Action] {
        var new = new
        if role == .ledger { new.natsConnected = true }
        var actions: [Action] = []
        if let announcement = new.announcement, announcement.id != state.announcement?.id {
            actions += lift(broadcast.handle(.learned(announcement), now: now), now: now)
        }
        if let ack = new.ack, ack.id != state.ack?.id {
            ownAckDelivered = new.natsConnected
            actions += lift(broadcast.handle(.learned(ack), now: now), now: now)
        } else if new.ack == nil {
            ownAckDelivered = false
        }
        if new.revocations.map(\.id) != state.revocations.map(\.id) {
            actions += lift(broadcast.handle(.keep(new.revocations), now: now), now: now)
        }
        let regained = new.natsConnected && !state.natsConnected
        state = new
        if regained, let ack = state.ack, !ownAckDelivered {
            ownAckDelivered = true
            actions.append(.publishAck(ack))
        }
        actions += lift(broadcast.handle(.localState(digest), now: now), now: now)
        return actions
    }

    // MARK: Carrying the inner machines' actions out

    mutating func lift(_ inner: [MembershipMachine.Action], now: Timestamp) -> [Action] {
        var actions: [Action] = []
        for action in inner {
            switch action {
            case .send(let to, let message): actions.append(.send(to: to, .membership(message)))
            case .armTimer(let timer, let at): actions.append(.armTimer(.membership(timer), at: at))
            case .cancelTimer(let timer): actions.append(.cancelTimer(.membership(timer)))
            case .refused(let from, let reason): actions.append(.refused(from: from, reason: reason))
            case .memberChanged(let change):
                actions.append(.memberChanged(change))
                guard change.node != node else { continue }
                switch change.status {
                case .dead:
                    if down.insert(change.node).inserted {
                        actions += lift(broadcast.handle(.neighborDown(change.node), now: now), now: now)
                    }
                case .alive:
                    // Back from the dead (not merely from suspicion): an eager neighbour again.
                    if down.remove(change.node) != nil { actions += lift(broadcast.handle(.neighborUp(change.node), now: now), now: now) }
                case .suspect:
                    break
                }
            }
        }
        return actions
    }

    mutating func lift(_ inner: [BroadcastMachine.Action], now: Timestamp, from sender: NodeID? = nil) -> [Action] {
        var actions: [Action] = []
        for action in inner {
            switch action {
            case .send(let to, let message): actions.append(.send(to: to, .broadcast(message)))
            case .sendOverLink(let to, let message): actions.append(.sendOverLink(to: to, message))
            case .armTimer(let timer, let at): actions.append(.armTimer(.broadcast(timer), at: at))
            case .cancelTimer(let timer): actions.append(.cancelTimer(.broadcast(timer)))
            case .deliver(let document, let from): actions.append(.deliver(document, from: from))
            case .publishAck(let document): actions.append(.publishAck(document))
            case .refused(let from, let reason): actions.append(.refused(from: from, reason: reason))
            case .ackDelivered(let id):
                guard id == state.ack?.id else { continue }
                ownAckDelivered = true
                actions.append(.ackDelivered(id, by: sender ?? node))
            }
        }
        return actions
    }
}
