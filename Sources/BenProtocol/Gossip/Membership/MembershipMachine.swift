public import BenCore

/// Who is alive: SWIM with the Lifeguard extensions, as a plain value (CONVENTIONS habit 1).
///
/// Each node probes the members of its view (`PeerSelection`) and any it is told to watch (a relay's plan children),
/// one per protocol period, round robin in a seeded order:
///
/// 1. **Direct probe.** `ping`; an `ack` within the ping timeout ends the probe.
/// 2. **Indirect probe.** Otherwise `pingRequest` to k other members, who ping the target and forward its `ack`, or
///    answer `nack` if it stays silent. An ack by the end of the indirect timeout ends the probe.
/// 3. **Suspicion.** Otherwise the target becomes *suspect* at the incarnation this node knows, and the suspicion is
///    gossiped. The target is told at once (a `ping` carrying its own suspicion, Lifeguard's buddy system) and again
///    every other probe period while the suspicion lasts, and any message it gets from a node that suspects it
///    carries the suspicion too, so a suspect cut off for a while refutes soon after it is reachable again.
/// 4. **Refutation.** A member that hears it is suspect or dead at incarnation i raises its incarnation to i + 1 and
///    gossips `alive`; an alive claim with a higher incarnation overrides suspect and dead, which is also how a node
///    declared dead *rejoins*.
/// 5. **Death.** A suspicion not refuted within the suspicion timeout becomes *dead*. The timeout starts at its
///    maximum and shrinks toward its minimum with each independent suspicion of the same incarnation (Lifeguard's
///    LHA-suspicion, as memberlist computes it).
///
/// **Local health** (Lifeguard's LHM, memberlist's awareness): a saturating counter that failed probes and missing
/// `nack`s raise, refuting a suspicion of oneself raises, and successful probes lower. The probe interval and the ping
/// timeouts are multiplied by (1 + local health), so a node that is itself slow (CPU starved, its network lossy)
/// probes less eagerly and waits longer before it suspects anyone.
///
/// **Dissemination.** Updates ride on every membership message, at most `maxUpdatesPerMessage` and never past the
/// datagram budget, least transmitted first and then most recently queued or sent (`RumourQueue`); each is sent at
/// most λ·⌈log10(N + 1)⌉ times.
///
/// **Authentication.** The shell verifies each datagram against its sender's topology key and says so in the
/// input. A refused datagram, or one from a node not on the roster, changes nothing and yields `.refused`. Updates
/// about nodes not on the roster are dropped, so no node the topology does not list is ever admitted.
///
/// Time comes in as `now`; timers are actions that come back as `.timerFired`; randomness comes from a generator
/// seeded by the shell.
public struct MembershipMachine: Sendable {
    /// Timings and limits of SWIM with Lifeguard's refinements; the defaults are what `ben-agent` runs with.
    public struct Settings: Sendable, Hashable {
        /// One probe per period (× (1 + local health)). SWIM and memberlist use 1 s.
        public var probeInterval: Duration = .seconds(1)
        /// How long a direct ping waits for its ack (× (1 + local health)). A few round trips across the farthest
        /// tier a view spans (30 ms one way across regions).
        public var pingTimeout: Duration = .milliseconds(300)
        /// How long the indirect probes get after the direct one failed (× (1 + local health)); ping timeout plus
        /// indirect timeout stay within the probe interval.
        public var indirectTimeout: Duration = .milliseconds(600)
        /// k: members asked to ping the target when the direct ping failed.
        public var indirectProbes: Int = 3
        /// A helper answers `nack` after this share of the indirect timeout (Lifeguard: 80 %).
        public var nackAfter: Double = 0.8
        /// The local health multiplier's ceiling: probes slow down at most (1 + this)-fold.
        public var maxLocalHealth: Int = 8
        /// Suspicion timeout floor: this × max(1, log10 N) probe intervals (memberlist's SuspicionMult, 4).
        public var suspicionMultiplier: Double = 4
        /// Suspicion timeout ceiling, as a multiple of the floor: a suspicion nobody else confirms runs this long.
        public var suspicionMaxMultiplier: Double = 3
        /// K: independent suspicions (the first included) that bring the timeout down to its floor.
        public var independentSuspicions: Int = 3
        /// λ: each update is piggybacked at most λ·⌈log10(N + 1)⌉ times (memberlist's RetransmitMult, 4).
        public var retransmitMultiplier: Int = 4
        /// At most this many updates on one message (the datagram budget binds first with long node ids).
        public var maxUpdatesPerMessage: Int = 16
        /// At most this many updates wait to be piggybacked; past it the most transmitted are dropped.
        public var maxPendingUpdates: Int = 512
        /// Every membership datagram, signature included, fits this (an Ethernet MTU less IP, UDP and tunnel headers).
        public var maxDatagramBytes: Int = 1400
        /// A member declared dead is pinged again (a reconnect probe) at most this often, so a node that comes back
        /// after a partition or a pause is noticed and rejoins even though nobody probes dead members.
        public var reconnectInterval: Duration = .seconds(5)
        /// What this node passed on about members it does not probe is remembered this long, to pass each update on
        /// once; records of members it stopped watching are dropped after it too.
        public var retention: Duration = .seconds(30)
        /// Keep a record (an opinion) of every member ever heard of, forever: the ledger's and `benctl members`' view.
        /// Otherwise a node holds opinions only of the members it probes, and passes the rest on.
        public var retainEveryMember: Bool = false

        /// The defaults.
        public init() {}
    }

    /// What the shell tells the machine.
    public enum Input: Sendable, Hashable {
        /// Begin probing (the first probe comes after a seeded fraction of a period, so a fleet started together
        /// does not probe in lockstep).
        case start
        /// A membership datagram from `from`, with the shell's verdict on its signature.
        case received(from: NodeID, MembershipMessage, GossipAuthentication)
        case timerFired(Timer)
        /// Members to probe besides the view (a relay's plan parent and children); replaces the previous set.
        case watch([NodeID])
    }

    /// What the machine asks the shell to do.
    public enum Action: Sendable, Hashable {
        /// Send this datagram to `to` (the shell signs it with this node's key).
        case send(to: NodeID, MembershipMessage)
        /// Fire `.timerFired(timer)` at `at`, replacing any earlier arming of the same timer.
        case armTimer(Timer, at: Timestamp)
        case cancelTimer(Timer)
        /// A member's status changed as this node sees it (this node's own refutations included).
        case memberChanged(MemberChange)
        /// A datagram was refused and changed nothing.
        case refused(from: NodeID, reason: String)
    }

    /// The membership machine's timers; no other machine shares them.
    public enum Timer: Sendable, Hashable, CustomStringConvertible {
        /// Start the next protocol period's probe.
        case probe
        /// The direct ping of probe `sequence` has had its time.
        case probeTimeout(UInt32)
        /// The indirect probes of probe `sequence` have had their time: the target becomes suspect.
        case indirectTimeout(UInt32)
        /// As a helper: the target of relayed ping `sequence` stayed silent; answer `nack`.
        case relayTimeout(UInt32)
        /// The suspicion of this member runs out.
        case suspicion(NodeID)

        /// The action as logs name it.
        public var description: String {
            switch self {
            case .probe: "probe"
            case .probeTimeout(let s): "probe-timeout(\(s))"
            case .indirectTimeout(let s): "indirect-timeout(\(s))"
            case .relayTimeout(let s): "relay-timeout(\(s))"
            case .suspicion(let n): "suspicion(\(n))"
            }
        }
    }

    /// Where the current protocol period's probe stands: the machine's phase.
    enum ProbePhase: Sendable, Hashable {
        case idle
        /// Pinged the target; waiting for its ack.
        case direct(Probe)
        /// Asked helpers to ping the target; waiting for a forwarded ack, counting nacks.
        case indirect(Probe)
    }

    struct Probe: Sendable, Hashable {
        var target: NodeID
        var sequence: UInt32
        var helpers: Int = 0
        var nacks: Int = 0
        /// When the indirect probes' time runs out (set once they are sent).
        var indirectDeadline: Timestamp? = nil
    }

    /// A member as this node sees it; each status carries only what means something in it.
    enum MemberState: Sendable, Hashable {
        case alive(Incarnation)
        case suspect(Suspicion)
        case dead(Death)

        var incarnation: Incarnation {
            switch self {
            case .alive(let i): i
            case .suspect(let s): s.incarnation
            case .dead(let d): d.incarnation
            }
        }

        var status: MemberStatus {
            switch self {
            case .alive: .alive
            case .suspect: .suspect
            case .dead: .dead
            }
        }
    }

    struct Suspicion: Sendable, Hashable {
        var incarnation: Incarnation
        var since: Timestamp
        /// Distinct suspecters, the first one first; at most K are counted.
        var by: [NodeID]
        var deadline: Timestamp
        /// When to remind the suspect again (a ping carrying its suspicion); nil: at the next probe tick.
        var remindAt: Timestamp? = nil
    }

    struct Death: Sendable, Hashable {
        var incarnation: Incarnation
        var by: NodeID
        /// The next reconnect probe may go at or after this time (probed members only).
        var reconnectAt: Timestamp
    }

    struct Member: Sendable, Hashable {
        var state: MemberState
        /// In the view or watched: this node probes it, and keeps its record for good.
        var probed: Bool
        var lastHeard: Timestamp?
        var changedAt: Timestamp
    }

    /// What this node passed on about a member it does not probe.
    struct Relayed: Sendable, Hashable {
        var incarnation: Incarnation
        /// 0 alive, 1 suspect, 2 dead.
        var rank: Int
        var suspecters: [NodeID]
        var at: Timestamp
    }

    /// A ping this node relays for a requester (its ping-request's sequence).
    struct Relay: Sendable, Hashable {
        var requester: NodeID
        var sequence: UInt32
    }

    /// This node's id.
    public let node: NodeID
    /// The fleet; datagrams of another fleet are refused.
    public let fleet: FleetName
    /// The timings and limits it runs with.
    public let settings: Settings
    /// Every node the topology lists: the only possible members.
    public let roster: GossipRoster
    /// This node's incarnation; raised only to refute.
    public internal(set) var incarnation: Incarnation = 0
    /// Lifeguard's local health multiplier, 0…maxLocalHealth.
    public internal(set) var localHealth: Int = 0
    var records: [NodeID: Member] = [:]
    let view: [NodeID]
    var watched: [NodeID] = []
    var probeOrder: [NodeID] = []
    var probeCursor = 0
    var phase: ProbePhase = .idle
    var relays: [UInt32: Relay] = [:]
    var rumours = RumourQueue()
    var relayed: [NodeID: Relayed] = [:]
    var nextSweep = Timestamp(millisecondsSinceEpoch: .min)
    var sequence: UInt32 = 0
    var random: GossipRandom

    /// - Parameters:
    ///   - view: the members to probe (`PeerSelection.view`); nodes not on the roster are left out.
    ///   - seed: seeds every random choice this machine makes.
    public init(
        node: NodeID, fleet: FleetName, roster: GossipRoster, view: [NodeID], seed: UInt64, settings: Settings = Settings(), now: Timestamp
    ) {
        self.node = node
        self.fleet = fleet
        self.roster = roster
        self.settings = settings
        self.view = view.filter { $0 != node && roster.contains($0) }
        random = GossipRandom(seed: seed, stream: GossipRandom.hash(node.rawValue) ^ 0x5353_494D)
        for member in self.view where records[member] == nil {
            records[member] = Member(state: .alive(0), probed: true, lastHeard: nil, changedAt: now)
        }
    }

    /// The one entry point (the simulator and fuzzers use it); each case goes to its `on…` method.
    public mutating func handle(_ input: Input, now: Timestamp) -> [Action] {
        switch input {
        case .start: onStart(now: now)
        case .received(let from, let message, let authentication): onMessage(message, from: from, authentication: authentication, now: now)
        case .timerFired(let timer): onTimer(timer, now: now)
        case .watch(let nodes): onWatch(nodes, now: now)
        }
    }

    // MARK: Queries

    /// What this node knows of every member it holds a record of, sorted by id.
    public var members: [MemberInfo] {
        records.keys.sorted().map { id in
            let m = records[id]!
            return MemberInfo(
                node: id, status: m.state.status, incarnation: m.state.incarnation, probed: m.probed, lastHeard: m.lastHeard,
                since: m.changedAt)
        }
    }

    /// This node's view of one member; nil when it holds no record of it.
    public func status(of member: NodeID) -> (status: MemberStatus, incarnation: Incarnation)? {
        records[member].map { ($0.state.status, $0.state.incarnation) }
    }

    /// Updates waiting to be piggybacked.
    public var pendingUpdates: Int { rumours.count }

    /// The most times one update is sent: λ·⌈log10(N + 1)⌉.
    public var retransmitLimit: Int {
        settings.retransmitMultiplier * max(1, Int(Self.log10(Double(roster.count + 1)).rounded(.up)))
    }

    /// The suspicion timeout after `confirmations` independent suspicions (the first included): from its ceiling
    /// with one down to its floor with K, logarithmically (Lifeguard §IV.B, memberlist's remainingSuspicionTime).
    public func suspicionTimeout(confirmations: Int) -> Duration {
        let interval = Double(settings.probeInterval.milliseconds)
        let floor = settings.suspicionMultiplier * max(1, Self.log10(Double(roster.count))) * interval
        let ceiling = floor * settings.suspicionMaxMultiplier
        // Confirmations beyond the first, against the K − 1 it takes to reach the floor.
        let k = Double(max(1, settings.independentSuspicions - 1))
        let c = Double(min(max(0, confirmations - 1), Int(k)))
        let fraction = naturalLog(c + 1) / naturalLog(k + 1)
        return .milliseconds(Int64(max(floor, ceiling - (ceiling - floor) * fraction).rounded()))
    }

    /// `base` × (1 + local health).
    func scaled(_ base: Duration) -> Duration { base * (1 + localHealth) }
}

extension MembershipMachine {
    /// log10 by BenCore's pure `naturalLog`, so that a core needs no Foundation and the bounds are the same on
    /// every platform.
    static func log10(_ x: Double) -> Double { naturalLog(x) / 2.302_585_092_994_046 }
}
