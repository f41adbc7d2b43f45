public import BenCore
public import BenCrypto
public import BenPeerLink

/// What one `ben-ledger` needs (DESIGN §2, issue "The ledger"): the fleet, NATS, where it keeps its state, the
/// key it signs with, whom it takes orders from, and where its store serves chunks.
public struct LedgerConfiguration: Sendable {
    public var fleet: FleetName
    public var natsServers: [String]
    /// The NATS credentials file `benctl nats config` wrote for the ledger (or a `.creds` file), for a server that
    /// runs Ben's authorization; nil connects without credentials. Default nil.
    public var natsCredentials: String?
    /// Holds `ledger.sqlite` and `store/`.
    public var dataDirectory: String
    public var key: SigningKey
    /// Operator keys whose signed requests change state; reads are open.
    public var operators: TrustedKeys
    /// Where the seeder's listener accepts pulls (orphans, refetches); it is the announcement's `ledger`.
    public var seedListen: HostPort
    /// A deployment's deadline unless `deploy --timeout` says otherwise.
    public var defaultTimeout: Duration = .seconds(120)
    /// A node not heard from for this long is planned around (left out; it catches up as an orphan).
    public var silentAfter: Duration = .seconds(150)
    public var peerLink = PeerLinkSettings()
    /// Peer link records encrypted (the default); off, links are still mutually authenticated.
    public var linkEncryption = true
    /// Caps this process's upload over all peer links, in bytes per second (nil: no cap). Tests and the shaped
    /// benchmark use it to model a node's NIC on loopback.
    public var uploadLimit: Double?
    /// How this ledger names itself in the fleet's lease, so a second ledger can say who serves.
    public var name: String = LeaseValue.defaultName
    /// How long the lease lasts after each renewal (renewed every third of it). A ledger that cannot renew for
    /// nine tenths of it stops acting and exits; a standby takes over once it has passed without a renewal.
    public var leaseTTL: Duration = .seconds(15)
    /// Wait for the lease instead of refusing to start while another ledger holds it.
    public var standby = false
    /// Copies of the ledger's JetStream streams and key-value buckets in a NATS cluster; an existing stream's
    /// count is raised to this, never lowered.
    public var replicas = 1
    /// How far a node's heartbeat timestamps may be from the ledger's clock before it is shown as `clock_skew`.
    /// Liveness never depends on them: silence is measured from when the ledger received a heartbeat.
    public var clockSkewTolerance: Duration = .seconds(30)
    /// Gossip: the ledger joins as a member on its seed address's port over UDP (LedgerService+Gossip.swift).
    public var gossip = LedgerGossipConfiguration()

    public init(
        fleet: FleetName, natsServers: [String], dataDirectory: String, key: SigningKey, operators: TrustedKeys, seedListen: HostPort
    ) {
        self.fleet = fleet
        self.natsServers = natsServers
        self.dataDirectory = dataDirectory
        self.key = key
        self.operators = operators
        self.seedListen = seedListen
    }
}
