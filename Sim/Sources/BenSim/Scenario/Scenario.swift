public import BenTopology

/// One simulation: a fleet, a bundle, a link model, the strategies to compare, the faults to inject and a seed
/// (docs/sim.md documents the file format). Every engine run from the same scenario and seed gives the same
/// figures.
public struct Scenario: Sendable {
    /// Where the fleet comes from.
    public enum FleetSource: Sendable, Hashable {
        /// A topology file (topology/README.md), path as resolved against the scenario's folder.
        case file(String)
        /// `TopologyGenerator` parameters: a synthetic fleet of any size.
        case generated(TopologyGenerator.Parameters)
    }

    /// How chunks move between nodes.
    public enum Strategy: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// The real planner's k stripe trees (DESIGN §1).
        case benTree = "ben-tree"
        /// Every node fetches the whole bundle from the ledger.
        case star
        /// Every byte goes through one NATS-like hub next to the ledger, which sends it to every node.
        case broker
        /// A binary tree over the nodes in a random order, blind to racks and zones.
        case binaryTree = "binary-tree"
        /// One node after another, in the topology's order.
        case chain
        /// A BitTorrent-like swarm: random peers trade random chunks they lack.
        case swarm

        public var description: String { rawValue }
        public static let spelling = allCases.map(\.rawValue).joined(separator: ", ")
    }

    /// The link model: replaces what the topology says where given.
    public struct Links: Sendable, Hashable {
        /// Every node's upload cap (B); nil keeps the topology's per-node values.
        public var uplink: Bandwidth?
        public var ledgerUplink: Bandwidth?
        /// Per tier: bandwidth and one-way latency of a peer link; nil keeps the topology's.
        public var tiers: PerTier<Link?> = PerTier(repeating: nil)

        public init() {}
    }

    /// A fault to inject. Each is also run on its own to measure its effect (its blast radius).
    public enum Fault: Sendable, Hashable, CustomStringConvertible {
        /// A fraction of the nodes is down from the start (the planner does not know).
        case down(fraction: Double)
        /// Nodes killed at a time after the start: `relays` random relays of the ben-tree plan, and named nodes.
        case kill(at: Double, relays: Int, nodes: [String])
        /// A fraction of the nodes uploads at `factor` of its uplink.
        case slow(fraction: Double, factor: Double)
        /// A zone (`region/zone`) is cut off from everything outside it from `at` on.
        case partition(zone: String, at: Double)

        public var description: String {
            switch self {
            case .down(let f): "\(formatFraction(f)) of nodes down"
            case .kill(let at, let relays, let nodes):
                "kill \([relays > 0 ? "\(relays) relays" : nil, nodes.isEmpty ? nil : nodes.joined(separator: ", ")].compactMap { $0 }.joined(separator: " and ")) at \(formatDuration(at))"
            case .slow(let f, let factor): "\(formatFraction(f)) of nodes upload at \(formatFraction(factor))"
            case .partition(let zone, let at): "zone \(zone) partitioned at \(formatDuration(at))"
            }
        }
    }

    /// Protocol timers the flow engine models (the agent machine's defaults).
    public struct Timing: Sendable, Hashable {
        /// From a link failing to its parent adopting the children (link retries, DESIGN §3 step 9).
        public var detection: Double = 1.5
        /// From the announcement to an uncontacted node pulling from the ledger's store (step 10).
        public var orphanAfter: Double = 10
        /// From a stripe stalling to the node fetching its chunks elsewhere (two progress checks).
        public var stallAfter: Double = 10
        /// Compiling a received bundle, before the swap.
        public var compile: Double = 0

        public init() {}
    }

    /// The swarm strategy's knobs. The defaults are aria2c's (the client the shaped-network benchmark runs):
    /// `SwarmEngine` says what each one models.
    public struct Swarm: Sendable, Hashable {
        /// Peers each node connects to: aria2c's `--bt-max-peers` (55). With `chokeInterval` 0, random links
        /// made two-way (degrees average about twice this); otherwise each node, as it joins, connects to up to
        /// this many of the nodes that joined before it (a tracker's list) that have room.
        public var peers: Int = 55
        /// Concurrent uploads per node (unchoked peers): aria2c unchokes 3 peers by the rate they send at, plus
        /// 1 optimistically.
        public var slots: Int = 4
        /// Seconds between choke rounds (aria2c: 10 s), when each node picks whom it uploads to. 0 is the
        /// idealised swarm: every free slot serves whichever peer lacks something, at once, at a fixed
        /// 1 ÷ `slots` of the uplink.
        public var chokeInterval: Double = 10
        /// aria2c's event-loop period (1 s): what a node says on a connection with no traffic (a HAVE, an
        /// UNCHOKE) goes out at its next tick. 0 says it at once.
        public var tick: Double = 1
        /// Leechers join in a seeded random order, evenly spread over this many seconds (a benchmark starting
        /// one client after another); the seed is there from the start.
        public var joinSpread: Double = 0
        /// Bytes of whole pieces a downloader has asked one unchoked peer for at once (the one arriving
        /// included), each chosen rarest first when asked for and committed to that peer until sent or the peer
        /// chokes it. aria2c checks out the next piece once fewer blocks of the current one are missing than its
        /// outstanding requests (6 of 16 KiB, doubling up to 256): two 1 MiB pieces. 0 or one piece asks for one
        /// at a time.
        public var pipeline: Double = 2_097_152
        /// TCP's initial window, bytes (Linux: 10 segments of 1448): a send on a connection idle for longer
        /// than the retransmission timeout (at least 200 ms) ramps up from it, doubling each round trip.
        /// 0 sends at the full share at once.
        public var initialWindow: Double = 14_480
        /// Pieces a choked downloader may still ask any peer for (BEP 6's allowed fast set; aria2c: 10). aria2c
        /// derives the set from the downloader's IPv4 address masked to /16 (/24 for class C) and the torrent,
        /// so every host of one such subnet, as the benchmark's 10.77.0.0/16, gets the same set, and every one of
        /// them asks the seed for the same pieces at once. 0: none.
        public var allowedFast: Int = 10

        public init() {}

        /// The idealised swarm of earlier versions: 8 random peers, no choking, no event loop.
        public static var idealised: Swarm {
            var s = Swarm()
            s.peers = 8
            s.chokeInterval = 0
            s.tick = 0
            s.initialWindow = 0
            s.pipeline = 0
            s.allowedFast = 0
            return s
        }
    }

    /// The protocol engine's run: the real machines over a simulated network.
    public struct ProtocolRun: Sendable, Hashable {
        /// Chunks in the simulated bundle (each of the bundle's chunk size).
        public var chunks: Int = 16
        /// Fraction of the plan's relays killed during the transfer.
        public var relayFailures: Double = 0
        /// When the kills happen: uniformly in this window after the start.
        public var killWindow: ClosedRange<Double> = 0.001...0.05
        /// The gremlin: per-frame probability of resetting the link, of delaying a frame, and the most delay.
        public var drop: Double = 0
        public var delay: Double = 0
        public var maxDelay: Double = 0.02
        /// A zone cut off for a while (`region/zone`), with its window.
        public var partition: (zone: String, from: Double, until: Double)?
        /// Deployments run one after another (the second checks anti-rollback with a replayed announcement).
        public var deployments: Int = 1
        /// The ledger's deadline for each deployment.
        public var deadline: Double = 60
        /// Nodes whose compile fails, by id, and nodes that tamper with what they relay.
        public var compileFailures: [String] = []
        public var tampering: [String] = []

        public init() {}

        public static func == (a: Self, b: Self) -> Bool {
            a.chunks == b.chunks && a.relayFailures == b.relayFailures && a.killWindow == b.killWindow && a.drop == b.drop
                && a.delay == b.delay && a.maxDelay == b.maxDelay && a.partition?.zone == b.partition?.zone
                && a.partition?.from == b.partition?.from && a.partition?.until == b.partition?.until
                && a.deployments == b.deployments && a.deadline == b.deadline && a.compileFailures == b.compileFailures
                && a.tampering == b.tampering
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(chunks)
            hasher.combine(relayFailures)
            hasher.combine(deployments)
        }
    }

    public var name: String
    public var description: String
    /// The file it was read from (for messages); empty when built in code.
    public var file: String
    public var seed: UInt64
    public var fleet: FleetSource
    public var bundleSize: Int64
    public var chunkSize: Int64
    public var links: Links
    public var strategies: [Strategy]
    public var faults: [Fault]
    public var timing: Timing
    public var swarm: Swarm
    /// The hub's uplink for `broker`; nil uses the ledger's.
    public var brokerUplink: Bandwidth?
    /// Stripe trees for ben-tree; nil lets the planner choose.
    public var stripes: Int?
    /// Measure each fault's effect on its own (one more run per fault, per relay killed) for ben-tree.
    public var blastRadius: Bool
    /// At most this many isolated runs per fault list (the rest are summed up in the combined run).
    public var blastRadiusRuns: Int
    /// Run the protocol engine too.
    public var protocolRun: ProtocolRun?
    /// The protocol run's last deployment rolls out with this policy (`Scenario+Rollout.swift`).
    public var rollout: SimRollout?

    public init(
        name: String, description: String = "", file: String = "", seed: UInt64 = 1, fleet: FleetSource, bundleSize: Int64,
        chunkSize: Int64 = 1 << 20, links: Links = Links(), strategies: [Strategy] = [.benTree], faults: [Fault] = [],
        timing: Timing = Timing(), swarm: Swarm = Swarm(), brokerUplink: Bandwidth? = nil, stripes: Int? = nil,
        blastRadius: Bool = true, blastRadiusRuns: Int = 8, protocolRun: ProtocolRun? = nil
    ) {
        self.name = name
        self.description = description
        self.file = file
        self.seed = seed
        self.fleet = fleet
        self.bundleSize = bundleSize
        self.chunkSize = chunkSize
        self.links = links
        self.strategies = strategies
        self.faults = faults
        self.timing = timing
        self.swarm = swarm
        self.brokerUplink = brokerUplink
        self.stripes = stripes
        self.blastRadius = blastRadius
        self.blastRadiusRuns = blastRadiusRuns
        self.protocolRun = protocolRun
    }

    /// Chunks in the bundle.
    public var chunkCount: Int { Int((bundleSize + chunkSize - 1) / chunkSize) }
}

func formatFraction(_ f: Double) -> String {
    let percent = f * 100
    let rounded = (percent * 100).rounded() / 100
    return rounded == rounded.rounded() ? "\(Int(rounded))%" : "\(rounded)%"
}

/// `850 µs`, `12.5 ms`, `1.2 s`, `3 min 20 s`.
public func formatDuration(_ seconds: Double) -> String {
    if !seconds.isFinite { return "never" }
    if seconds >= 120 {
        let whole = Int(seconds.rounded())
        return "\(whole / 60) min \(whole % 60) s"
    }
    return formatSeconds(seconds)
}
