public import BenCore
public import BenCrypto
public import BenPeerLink

/// What one `ben-ledger` needs (DESIGN §2, issue "The ledger"): the fleet, NATS, where it keeps its state, the
/// key it signs with, whom it takes orders from, and where its store serves chunks.
public struct LedgerConfiguration: Sendable {
    public var fleet: FleetName
    public var natsServers: [String]
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
    /// Caps this process's upload over all peer links, in bytes per second (nil: no cap). Tests and the shaped
    /// benchmark use it to model a node's NIC on loopback.
    public var uploadLimit: Double?

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
