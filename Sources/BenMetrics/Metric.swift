import BenCore
import CoreMetrics

/// Every metric Ben reports, by name: the catalogue docs/operations.md lists, and the one place a name is spelled.
///
/// Shells report through swift-metrics (`Metric.acksVerified.increment(["status": "active"])`), so a shell needs
/// no HTTP and a process that never bootstraps a metrics backend pays almost nothing: swift-metrics hands out
/// no-op handlers until `MetricsSystem.bootstrap` runs. `ben-ledger` and `ben-agent` bootstrap swift-prometheus when
/// `--metrics-listen` is given (BenOperations).
///
/// Names follow Prometheus's conventions: `_total` for counters, `_seconds` for durations, base units, one label
/// set per name. Label values are a small fixed vocabulary (a reason code, a tier), never a node id or a
/// free-form error, so a 10 000-node fleet does not grow the series count.
public enum Metric: String, CaseIterable, Sendable {
    // Both processes.
    case buildInfo = "ben_build_info"
    case activeVersion = "ben_active_version"
    case bytesSent = "ben_bytes_sent_total"
    case bytesReceived = "ben_bytes_received_total"
    case linksOpen = "ben_links_open"
    case natsConnected = "ben_nats_connected"
    case natsReconnects = "ben_nats_reconnects_total"
    case natsDisconnects = "ben_nats_disconnects_total"
    case linksRefused = "ben_links_refused_total"
    case gossipMembers = "ben_gossip_members"
    case revokedKeys = "ben_revoked_keys"

    // The ledger.
    case rollouts = "ben_rollouts"
    case rolloutNodes = "ben_rollout_nodes"
    case acksVerified = "ben_acks_verified_total"
    case acksRejected = "ben_acks_rejected_total"
    case fleetNodes = "ben_fleet_nodes"
    case claimsIgnored = "ben_claims_ignored_total"

    // The agent.
    case chunksRefused = "ben_chunks_refused_total"
    case announcementsRefused = "ben_announcements_refused_total"
    case handOffs = "ben_handoffs_total"
    case handOffChunks = "ben_handoff_chunks_total"
    case adoptions = "ben_adoptions_total"
    case acksSent = "ben_acks_sent_total"
    case aggregatesSent = "ben_aggregates_sent_total"
    case activations = "ben_activations_total"
    case swapLatency = "ben_swap_latency_seconds"
    case evaluationLatency = "ben_evaluation_latency_seconds"
    case alarms = "ben_alarms_total"

    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    /// Which process reports it.
    public enum Reporter: String, Sendable {
        case ledger, agent, both
    }

    public var kind: Kind {
        switch self {
        case .buildInfo, .activeVersion, .linksOpen, .natsConnected, .rollouts, .rolloutNodes, .fleetNodes, .gossipMembers, .revokedKeys: .gauge
        case .swapLatency, .evaluationLatency: .histogram
        default: .counter
        }
    }

    public var reporter: Reporter {
        switch self {
        case .buildInfo, .activeVersion, .bytesSent, .linksOpen, .natsConnected, .natsReconnects, .natsDisconnects, .linksRefused,
            .gossipMembers, .revokedKeys:
            .both
        case .rollouts, .rolloutNodes, .acksVerified, .acksRejected, .fleetNodes, .claimsIgnored: .ledger
        default: .agent
        }
    }

    /// The label names this metric carries (every series of it carries all of them).
    public var labels: [String] {
        switch self {
        case .buildInfo: ["version", "process"]
        case .bytesSent, .bytesReceived: ["tier"]
        case .rollouts, .rolloutNodes, .fleetNodes, .gossipMembers: ["state"]
        case .acksVerified: ["status"]
        case .acksRejected, .chunksRefused, .announcementsRefused, .linksRefused: ["reason"]
        case .acksSent: ["status", "via"]
        case .aggregatesSent: ["via"]
        case .evaluationLatency: ["role"]
        default: []
        }
    }

    /// The `# HELP` line: what it counts, in the operator's words.
    public var help: String {
        switch self {
        case .buildInfo: "Always 1; the labels say which Ben release and which process this is."
        case .activeVersion:
            "The version this agent serves (0: none yet); on the ledger, the fleet's active version."
        case .bytesSent: "Chunk bytes written to peer links, by the topology tier the link crosses."
        case .bytesReceived: "Chunk bytes received on peer links, by the topology tier the link crosses."
        case .linksOpen: "Peer links open now (to parents, children, backups, pulls)."
        case .natsConnected: "1 while the NATS connection is up, 0 while it is lost or not made yet."
        case .natsReconnects: "Times the NATS connection came back after it was lost."
        case .natsDisconnects: "Times the NATS connection was lost (not counting Ben's own close)."
        case .linksRefused:
            "Peer links closed before or during their handshake, by reason (handshake, unauthorized, limit, idle, timeout)."
        case .gossipMembers:
            "Gossip members by status as this process's membership sees them (alive, suspect, dead); 0 with gossip off."
        case .rollouts: "Versions the ledger holds, by state (staged, deploying, active, incomplete, superseded)."
        case .rolloutNodes:
            "Required nodes of the current rollout by state (required, active, refused, missing)."
        case .acksVerified: "Signed acks whose signature verified against the node's key, by ack status."
        case .acksRejected: "Signed acks refused before they could count, by reason."
        case .claimsIgnored:
            "Aggregates whose claims about missing nodes were ignored: not signed by the relay that sent them."
        case .fleetNodes:
            "Topology nodes by what their heartbeats say: current (run the fleet's version), differing, silent."
        case .chunksRefused: "Chunks or manifests refused because their bytes do not match their key, by reason."
        case .announcementsRefused: "Announcements this agent refused, by reason."
        case .handOffs: "Times a slow child was handed the newest part of its queue to fetch elsewhere."
        case .handOffChunks: "Chunks handed off to slow children to fetch elsewhere."
        case .adoptions: "Unreachable children whose own children this relay adopted."
        case .acksSent: "This node's own signed ack sent up the tree or over NATS, by status and route."
        case .aggregatesSent: "Aggregates sent, up the ack tree (link) or over NATS (nats)."
        case .activations: "Versions swapped in."
        case .alarms: "Ledger alarms taken: versions stopped (an aborted rollout) before this node swapped them in."
        case .revokedKeys: "Node keys the ledger revoked, as this process holds them: links, gossip and acks signed with one are refused."
        case .swapLatency:
            "Seconds from a complete, verified bundle to the swap: the compile off the hot path plus the swap."
        case .evaluationLatency: "Seconds one evaluation takes on this node's active intent (benctl eval --node), by role."
        }
    }

    /// Histogram buckets, for the two histograms.
    public var buckets: [Duration] {
        switch self {
        case .swapLatency:
            [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .milliseconds(500),
             .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60)]
        case .evaluationLatency:
            [.microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
             .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100)]
        default: []
        }
    }

    /// Every value each label takes, so that a scrape shows every series from the start (at zero) rather than
    /// only after its first event: a dashboard's rate() then has a series to work on. `buildInfo` is set at start.
    public var vocabulary: [String: [String]] {
        switch self {
        case .bytesSent, .bytesReceived: ["tier": TierMap.labels]
        case .rollouts: ["state": ["staged", "deploying", "active", "incomplete", "superseded"]]
        case .rolloutNodes: ["state": ["required", "active", "refused", "missing"]]
        case .fleetNodes: ["state": ["current", "differing", "silent"]]
        case .acksVerified: ["status": ["active", "refused"]]
        case .acksRejected: ["reason": ["bad_signature", "unknown_node", "no_node", "revoked_key"]]
        case .chunksRefused: ["reason": ["tampered_chunk", "tampered_manifest"]]
        case .linksRefused: ["reason": ["handshake", "unauthorized", "limit", "idle", "timeout"]]
        case .gossipMembers: ["state": ["alive", "suspect", "dead"]]
        case .announcementsRefused:
            ["reason": ["bad_signature", "other_fleet", "not_newer", "rollback", "conflicting_manifest", "expired", "malformed"]]
        case .acksSent: ["status": ["active", "refused"], "via": ["link", "nats"]]
        case .aggregatesSent: ["via": ["link", "nats"]]
        case .evaluationLatency: ["role": Role.allCases.map(\.rawValue)]
        default: [:]
        }
    }

    /// Creates every series of every metric `process` (`ledger` or `agent`) reports, at zero.
    public static func declareAll(for process: Reporter) {
        for metric in allCases where metric != .buildInfo && (metric.reporter == process || metric.reporter == .both) {
            for labels in metric.labelSets {
                let dimensions = metric.dimensions(labels)
                switch metric.kind {
                case .counter: _ = Counter(label: metric.rawValue, dimensions: dimensions)
                case .gauge: Gauge(label: metric.rawValue, dimensions: dimensions).record(0)
                case .histogram: _ = Timer(label: metric.rawValue, dimensions: dimensions)
                }
            }
        }
    }

    /// Every combination of the vocabulary's label values.
    var labelSets: [[String: String]] {
        var sets: [[String: String]] = [[:]]
        for name in labels {
            let values = vocabulary[name] ?? [""]
            sets = sets.flatMap { set in values.map { value in set.merging([name: value]) { a, _ in a } } }
        }
        return sets
    }

    // MARK: Reporting

    /// Adds to a counter. `labels` must name exactly this metric's `labels`.
    public func increment(by amount: Int = 1, _ labels: [String: String] = [:]) {
        guard amount > 0 else { return }
        Counter(label: rawValue, dimensions: dimensions(labels)).increment(by: amount)
    }

    /// Sets a gauge.
    public func set(_ value: Double, _ labels: [String: String] = [:]) {
        Gauge(label: rawValue, dimensions: dimensions(labels)).record(value)
    }

    /// Sets a gauge.
    public func set(_ value: Int, _ labels: [String: String] = [:]) {
        set(Double(value), labels)
    }

    /// Records one observation of a duration histogram.
    public func record(_ duration: Duration, _ labels: [String: String] = [:]) {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        Timer(label: rawValue, dimensions: dimensions(labels)).recordNanoseconds(max(0, nanoseconds))
    }

    /// Labels in this metric's order; a missing one is "" so every series of a name has the same label names
    /// (swift-prometheus refuses a name with two label sets).
    func dimensions(_ labels: [String: String]) -> [(String, String)] {
        assert(Set(labels.keys).isSubset(of: self.labels), "\(rawValue) has labels \(self.labels), not \(labels.keys.sorted())")
        return self.labels.map { ($0, labels[$0] ?? "") }
    }
}
