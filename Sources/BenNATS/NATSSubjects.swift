public import BenCore

/// The NATS subjects and stream Ben uses for one fleet (DESIGN §5). Fleet names are restricted to
/// `[a-z0-9_-]`, so every subject and stream name below is valid as it stands.
public enum NATSSubjects {
    /// `ben.F.announce`: the ledger's signed announcements, kept by the fleet's announcement stream.
    public static func announce(_ fleet: FleetName) -> String { "ben.\(fleet.rawValue).announce" }

    /// `ben.F.ack`: orphans' direct acks and the root aggregate.
    public static func ack(_ fleet: FleetName) -> String { "ben.\(fleet.rawValue).ack" }

    /// `ben.F.heartbeat`: node → ledger, the node's active version.
    public static func heartbeat(_ fleet: FleetName) -> String { "ben.\(fleet.rawValue).heartbeat" }

    /// `ben.F.activate`: ledger → nodes, the signed activation of a two-phase version (`ben/activate/v1`). Plain NATS,
    /// not kept: a node that misses it keeps its old version, and the ledger names it.
    public static func activate(_ fleet: FleetName) -> String { "ben.\(fleet.rawValue).activate" }
    /// `ben.F.alarm`: ledger → nodes, the signed alarm that stops an aborted version (`ben/alarm/v1`). Kept by the
    /// alarm stream, so a node that was away reads it back; gossip carries it too.
    public static func alarm(_ fleet: FleetName) -> String { "ben.\(fleet.rawValue).alarm" }
    /// `ben.F.revoke`: ledger → nodes, a signed revocation of a node key (`ben/revoke/v1`). Kept by the revocation
    /// stream, so a node that was away reads every one back; gossip carries it too.
    public static func revoke(_ fleet: FleetName) -> String { "ben.\(fleet.rawValue).revoke" }

    /// `ben.F.node.<id>.announce`: ledger → one node, the signed announcement of a rollout wave it belongs to (waves
    /// before the last are announced only to their own nodes).
    public static func nodeAnnounce(_ fleet: FleetName, node: NodeID) -> String { "ben.\(fleet.rawValue).node.\(node.rawValue).announce" }

    /// A node's query endpoint (`benctl eval --node`).
    public static func nodeQuery(_ fleet: FleetName, node: NodeID) -> String { "ben.\(fleet.rawValue).node.\(node.rawValue).query" }

    /// `ben.F.node.<id>.answer`: ledger → node, "send your signed answer to version V again" (its ack went
    /// missing); the node answers on `ben.F.ack`.
    public static func nodeAnswer(_ fleet: FleetName, node: NodeID) -> String { "ben.\(fleet.rawValue).node.\(node.rawValue).answer" }

    /// `ben.F.api.<verb>`: benctl → ledger request/reply, JSON.
    public static func api(_ fleet: FleetName, verb: String) -> String { "ben.\(fleet.rawValue).api.\(verb)" }

    /// `ben.F.api.>`: every API verb, for the ledger's subscription.
    public static func apiWildcard(_ fleet: FleetName) -> String { "ben.\(fleet.rawValue).api.>" }

    /// `BEN_F_ANNOUNCE`: the JetStream stream that keeps the fleet's latest announcements.
    public static func announceStream(_ fleet: FleetName) -> String { "BEN_\(fleet.rawValue)_ANNOUNCE" }

    /// How many messages of `ben.F.announce` the announcement stream keeps: 64, the newest (issue 15).
    ///
    /// Not one: a single kept message is whatever was published last, so one forged or replayed message there
    /// hid the ledger's real announcement from every node that caught up. With a history, a catching-up node reads
    /// it back and takes the newest announcement that verifies (`AgentMachine.catchUp(from:now:)`), while the
    /// ledger puts its own current announcement back on top of anything else (`AnnouncementGuard`). 64 is far
    /// more than the ledger publishes between two nodes' catch-ups in practice (a deploy, a retry, a new epoch
    /// each publish one), so only someone who can publish 64 messages while the ledger cannot answer them pushes
    /// the real one out; it costs at most 64 × 8 KiB of stream storage per fleet and 64 reads per catch-up.
    public static let announceHistory = 64

    /// The announcement stream's configuration: file storage, the newest `announceHistory` messages of
    /// `ben.F.announce` kept, so a node that was down reads them back and takes the newest valid one.
    ///
    /// The ledger applies it at every start: a stream an older ledger created keeping one message is updated in
    /// place (`createOrUpdateStream`), and applying it again changes nothing.
    ///
    /// `replicas` is how many servers of a JetStream cluster keep a copy (1 on a single server); the ledger
    /// passes its `--replicas` and never lowers an existing stream's count.
    public static func announceStreamConfig(_ fleet: FleetName, replicas: Int = 1) -> JetStream.StreamConfig {
        keptStream(
            announceStream(fleet), subject: announce(fleet), keeping: announceHistory, replicas: replicas,
            description: "Ben announcements for fleet \(fleet.rawValue): the latest \(announceHistory) are kept")
    }

    /// `BEN_F_ALARM`: the JetStream stream that keeps the fleet's latest alarms.
    public static func alarmStream(_ fleet: FleetName) -> String { "BEN_\(fleet.rawValue)_ALARM" }

    /// How many alarms the alarm stream keeps, the newest: an alarm matters only to a node that holds its version
    /// prepared and not swapped in, which is one of the last few rollouts.
    public static let alarmHistory = 64

    /// `BEN_F_REVOKE`: the JetStream stream that keeps every revocation the ledger signed.
    public static func revokeStream(_ fleet: FleetName) -> String { "BEN_\(fleet.rawValue)_REVOKE" }

    /// How many revocations the revocation stream keeps. The ledger stores each one once (it republishes at start
    /// only those the stream lacks), so this bounds the fleet's revoked keys a node reads back, not time; at about
    /// 1 KiB each it is 4 MiB of stream storage at most.
    public static let revokeHistory = 4096

    /// The alarm stream's configuration: file storage, the newest `alarmHistory` alarms.
    public static func alarmStreamConfig(_ fleet: FleetName, replicas: Int = 1) -> JetStream.StreamConfig {
        keptStream(
            alarmStream(fleet), subject: alarm(fleet), keeping: alarmHistory, replicas: replicas,
            description: "Ben alarms for fleet \(fleet.rawValue): the latest \(alarmHistory) are kept")
    }

    /// The revocation stream's configuration: file storage, up to `revokeHistory` revocations.
    public static func revokeStreamConfig(_ fleet: FleetName, replicas: Int = 1) -> JetStream.StreamConfig {
        keptStream(
            revokeStream(fleet), subject: revoke(fleet), keeping: revokeHistory, replicas: replicas,
            description: "Ben revocations for fleet \(fleet.rawValue): each kept once, up to \(revokeHistory)")
    }

    /// A stream of one subject on file storage that keeps its newest `history` messages.
    private static func keptStream(
        _ name: String, subject: String, keeping history: Int, replicas: Int, description: String
    ) -> JetStream.StreamConfig {
        var config = JetStream.StreamConfig(name: name, subjects: [subject])
        config.description = description
        config.storage = .file
        config.maxMessagesPerSubject = history
        config.replicas = replicas
        return config
    }

    /// `ben_F_ledger`: the key-value bucket that holds the fleet's ledger lease (DESIGN §9).
    public static func ledgerBucket(_ fleet: FleetName) -> String { "ben_\(fleet.rawValue)_ledger" }

    /// `leader`: the key of the lease in `ledgerBucket`; its revision when a ledger won it is that ledger's epoch.
    public static let leaseKey = "leader"
}
