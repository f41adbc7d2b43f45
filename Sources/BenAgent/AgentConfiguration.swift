public import BenCore
public import BenCrypto
public import BenMetrics
public import BenPeerLink
public import BenProtocol

/// What one `ben-agent` needs to run (DESIGN §4): who it is, where it listens, whom it trusts, where it keeps
/// its state.
public struct AgentConfiguration: Sendable {
    public var node: NodeID
    public var fleet: FleetName
    /// The roles this node runs; it compiles only the artifacts these need.
    public var roles: Set<Role>
    public var key: SigningKey
    /// Where the peer link listens (parents connect here).
    public var listen: HostPort
    public var natsServers: [String]
    /// The NATS credentials file `benctl nats config` wrote for this node (or a `.creds` file), for a server that
    /// runs Ben's authorization; nil connects without credentials. Default nil.
    public var natsCredentials: String?
    /// Ledger keys whose announcements this node accepts.
    public var trustedLedgerKeys: TrustedKeys
    /// Holds `store/` (chunks) and `agent.state` (the durable record).
    public var stateDirectory: String
    /// Heartbeats go out this often, ± 20 %, and on every change.
    public var heartbeatEvery: Duration = .seconds(30)
    public var machine = AgentMachine.Settings()
    public var peerLink = PeerLinkSettings()
    /// Peer link records encrypted (the default). Off, links are still mutually authenticated, but their bytes
    /// travel plain: for measuring what encryption costs, or on a network that is itself trusted.
    public var linkEncryption = true
    /// Caps this process's upload over all peer links, in bytes per second (nil: no cap). Tests and the shaped
    /// benchmark use it to model a node's NIC on loopback.
    public var uploadLimit: Double?
    /// Fault injection for tests and drills: the first this many aggregates that carry this node's own ack are
    /// lost on the way out, as if the link or the ack parent had failed right after.
    public var faultDropAcks = 0
    /// If set, only aggregates of this version are lost.
    public var faultDropAcksVersion: Version?
    /// For tests only: shifts this agent's wall clock (the `at` of its heartbeats and acks, the `now` its machine
    /// decides by) by this much, to model a host whose clock is wrong. Zero in production.
    public var clockOffset: Duration = .zero
    /// Places nodes by region, zone and rack for the `tier` label of the byte metrics; empty (every tier
    /// `unknown`) unless the agent is given the topology file.
    public var tiers = TierMap()
    /// Gossip: on unless turned off, with its roster from `--topology` or from the ledger (AgentService+Gossip.swift).
    public var gossip = AgentGossipConfiguration()

    public init(
        node: NodeID, fleet: FleetName, roles: Set<Role>, key: SigningKey, listen: HostPort, natsServers: [String],
        trustedLedgerKeys: TrustedKeys, stateDirectory: String
    ) {
        self.node = node
        self.fleet = fleet
        self.roles = roles
        self.key = key
        self.listen = listen
        self.natsServers = natsServers
        self.trustedLedgerKeys = trustedLedgerKeys
        self.stateDirectory = stateDirectory
    }
}

/// Signs this node's acks with its key (context `ben/ack/v1`).
struct NodeSigner: AckSigner {
    let key: SigningKey

    func sign(_ ack: Ack) -> SignedEnvelope { key.envelope(ack, context: .ack) }
    func sign(_ report: TamperReport) -> SignedEnvelope { key.envelope(report, context: .report) }
}
