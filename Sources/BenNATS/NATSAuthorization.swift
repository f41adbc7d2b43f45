public import BenCore

/// The NATS authorization Ben ships (DESIGN §9): one NATS account per fleet, one nkey user per identity (the
/// ledger, each node, each operator), and what each may publish and subscribe to. Only the ledger publishes
/// announcements; each agent only its ack, heartbeat and query replies; operators only API requests and queries.
///
/// `serverConfiguration` renders it as nats-server configuration (`benctl nats config` writes it); nats-server then
/// enforces it, whatever a client does.
public struct NATSAuthorization: Sendable, Hashable {
    /// Who a user is.
    public enum Identity: Sendable, Hashable, CustomStringConvertible {
        case ledger
        case node(NodeID)
        case `operator`(String)

        public var description: String {
            switch self {
            case .ledger: "the ledger"
            case .node(let id): "node \(id)"
            case .operator(let name): "operator \(name)"
            }
        }
    }

    /// One user: who, the public nkey it authenticates with, and its permissions.
    public struct User: Sendable, Hashable {
        public var identity: Identity
        public var publicKey: String
        public var permissions: NATSPermissions
    }

    public let fleet: FleetName
    public private(set) var users: [User] = []

    /// The authorization of `fleet`: the ledger's nkey, each node's and each operator's (by name).
    public init(fleet: FleetName, ledger: String, nodes: [(NodeID, String)], operators: [(String, String)]) {
        self.fleet = fleet
        let ids = nodes.map(\.0)
        users.append(User(identity: .ledger, publicKey: ledger, permissions: .ledger(fleet, nodes: ids, publicKey: ledger)))
        for (id, key) in nodes {
            users.append(User(identity: .node(id), publicKey: key, permissions: .agent(fleet, node: id, publicKey: key)))
        }
        for (name, key) in operators {
            users.append(User(identity: .operator(name), publicKey: key, permissions: .operator(fleet, nodes: ids, publicKey: key)))
        }
    }

    /// The fleet's NATS account: `BEN_<fleet>`, with JetStream.
    public static func account(_ fleet: FleetName) -> String { "BEN_\(fleet.rawValue)" }

    /// nats-server configuration (2.2 and later): the fleet's account, with JetStream enabled, and its users.
    ///
    /// It holds public keys only, no secret. `header` lines go first, as comments.
    public func serverConfiguration(header: [String] = []) -> String {
        var lines = header.map { "# \($0)" }
        lines += [
            "accounts: {",
            "  \(quoted(Self.account(fleet))): {",
            "    jetstream: enabled",
            "    users: [",
        ]
        for user in users {
            lines.append("      # \(user.identity)")
            lines.append("      {")
            lines.append("        nkey: \(quoted(user.publicKey))")
            lines.append("        permissions: {")
            lines.append("          publish: { allow: [\(user.permissions.publish.map(quoted).joined(separator: ", "))] }")
            lines.append("          subscribe: { allow: [\(user.permissions.subscribe.map(quoted).joined(separator: ", "))] }")
            if user.permissions.allowResponses { lines.append("          allow_responses: true") }
            lines.append("        }")
            lines.append("      }")
        }
        lines += ["    ]", "  }", "}"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// A quoted string in nats-server's configuration: subjects hold `$`, `*` and `>`, which must not be read as
    /// variables or syntax.
    private func quoted(_ text: String) -> String { "\"\(text)\"" }
}

/// What one identity may publish and subscribe to on its fleet's account. Each list is an allow list: anything
/// else is refused by nats-server ("Permissions Violation").
public struct NATSPermissions: Sendable, Hashable {
    public var publish: [String]
    public var subscribe: [String]
    /// May answer requests it received (publish once to each request's reply subject, whatever it is).
    public var allowResponses: Bool

    /// The ledger: publishes announcements (and their stream's API), a rollout wave's announcements to its nodes by
    /// name, two-phase activations, alarms and revocations, asks nodes for answers again, answers the operator API;
    /// reads acks, heartbeats, the API and the announcement subject (to watch the stream's head).
    /// JetStream: every API subject of its account (it creates the announcement stream and the lease bucket) and its
    /// lease bucket's subjects.
    public static func ledger(_ fleet: FleetName, nodes: [NodeID], publicKey: String) -> NATSPermissions {
        NATSPermissions(
            publish: [NATSSubjects.announce(fleet), NATSSubjects.activate(fleet), NATSSubjects.alarm(fleet), NATSSubjects.revoke(fleet)]
                + NATSSubjects.perNode(fleet, nodes: nodes, verb: "answer")
                + NATSSubjects.perNode(fleet, nodes: nodes, verb: "announce") + ["$JS.API.>", "$KV.\(NATSSubjects.ledgerBucket(fleet)).>"],
            subscribe: [
                NATSSubjects.apiWildcard(fleet), NATSSubjects.ack(fleet), NATSSubjects.heartbeat(fleet), NATSSubjects.announce(fleet),
                inbox(publicKey),
            ],
            allowResponses: true)
    }

    /// A node's agent: publishes only acks and heartbeats, asks the ledger for the topology its announcement names
    /// (`api.topology.get`, for gossip's roster; the agent keeps it only if its key is the announcement's), and
    /// answers to the queries it is sent; reads announcements (the fleet's, and a rollout wave's sent to it by name),
    /// activations, alarms, revocations, its own query and answer subjects, and the announcement, alarm and
    /// revocation streams (read-only JetStream API: a stream's info and its messages, by sequence or last by subject).
    public static func agent(_ fleet: FleetName, node: NodeID, publicKey: String) -> NATSPermissions {
        let streams = [NATSSubjects.announceStream(fleet), NATSSubjects.alarmStream(fleet), NATSSubjects.revokeStream(fleet)]
        return NATSPermissions(
            publish: [NATSSubjects.ack(fleet), NATSSubjects.heartbeat(fleet)]
                + streams.flatMap { stream in
                    [
                        "$JS.API.STREAM.INFO.\(stream)", "$JS.API.STREAM.MSG.GET.\(stream)", "$JS.API.DIRECT.GET.\(stream)",
                        "$JS.API.DIRECT.GET.\(stream).>",
                    ]
                } + [NATSSubjects.api(fleet, verb: "topology.get")],
            subscribe: [
                NATSSubjects.announce(fleet), NATSSubjects.activate(fleet), NATSSubjects.alarm(fleet), NATSSubjects.revoke(fleet),
                NATSSubjects.nodeQuery(fleet, node: node),
                NATSSubjects.nodeAnswer(fleet, node: node), NATSSubjects.nodeAnnounce(fleet, node: node), inbox(publicKey),
            ],
            allowResponses: true)
    }

    /// An operator (benctl): publishes only API requests and node queries (`benctl eval --node`); reads only its
    /// own replies.
    public static func `operator`(_ fleet: FleetName, nodes: [NodeID], publicKey: String) -> NATSPermissions {
        NATSPermissions(
            publish: [NATSSubjects.apiWildcard(fleet)] + NATSSubjects.perNode(fleet, nodes: nodes, verb: "query"),
            subscribe: [inbox(publicKey)], allowResponses: false)
    }

    /// The inboxes of a connection authenticated by `publicKey` (see `NATSCredentials`).
    static func inbox(_ publicKey: String) -> String { NATSCredentials.inboxPrefix(publicKey: publicKey) + ".>" }
}

extension NATSSubjects {
    /// A node subject (`query` or `answer`) for every node in one permission: `ben.F.node.*.<verb>` covers every id
    /// without a dot; an id with dots spans several subject tokens, so it is listed by itself.
    static func perNode(_ fleet: FleetName, nodes: [NodeID], verb: String) -> [String] {
        ["ben.\(fleet.rawValue).node.*.\(verb)"] + nodes.filter { $0.rawValue.contains(".") }.map { "ben.\(fleet.rawValue).node.\($0.rawValue).\(verb)" }
    }
}
