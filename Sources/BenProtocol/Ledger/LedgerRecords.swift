public import BenCore

/// Where a version stands (DESIGN §6).
public enum VersionStatus: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case staged
    case deploying
    case active
    case incomplete
    case superseded
    /// A rollout in waves stopped by a failed gate or the operator: the waves not reached never received it.
    case aborted

    /// The status as it is stored and printed.
    public var description: String { rawValue }
}

/// One version of a fleet, as the ledger keeps it.
public struct VersionRecord: Sendable, Hashable {
    /// The version number.
    public var version: Version
    /// Key of its manifest.
    public var manifest: Key
    /// Byte length of the manifest's canonical form (the announcement carries it).
    public var manifestSize: Int64
    /// Total bytes of the bundle's artifacts.
    public var bundleSize: Int64
    /// What the operator called it when staging (a source directory name, "rollback to v3", …).
    public var label: String
    /// Where the version stands.
    public var status: VersionStatus
    /// When it was staged, by the ledger's clock.
    public var stagedAt: Timestamp
    /// When its status last changed.
    public var changedAt: Timestamp
    /// Present once the version was deployed.
    public var deployment: DeploymentRecord?

    /// A version record, as the ledger stores it.
    public init(
        version: Version, manifest: Key, manifestSize: Int64, bundleSize: Int64, label: String, status: VersionStatus, stagedAt: Timestamp,
        changedAt: Timestamp? = nil, deployment: DeploymentRecord? = nil
    ) {
        self.version = version
        self.manifest = manifest
        self.manifestSize = manifestSize
        self.bundleSize = bundleSize
        self.label = label
        self.status = status
        self.stagedAt = stagedAt
        self.changedAt = changedAt ?? stagedAt
        self.deployment = deployment
    }
}

/// A rollout's state: the announcement, who is required, and what each node has said.
public struct DeploymentRecord: Sendable, Hashable {
    /// The signed announcement that started the rollout.
    public var announcement: Announcement
    /// The target nodes: every one must ack `active` for the version to be active.
    public var required: Set<NodeID>
    /// Verified acks by node (the latest that counts).
    public var acks: [NodeID: AckRecord] = [:]
    /// What relays said about nodes without an ack (unreachable, timeout, refused the announcement).
    public var hints: [NodeID: MissingReason] = [:]
    /// Relays reported as serving tampered bytes, with the report.
    public var suspects: [NodeID: String] = [:]
    /// 1 for the first rollout, then one more for each `--retry`.
    public var attempt: Int
    /// Two-phase activation and waves (`RolloutRecord`); nil for a plain deploy.
    public var rollout: RolloutRecord?

    /// A rollout record; acks and hints start empty.
    public init(
        announcement: Announcement, required: Set<NodeID>, acks: [NodeID: AckRecord] = [:], hints: [NodeID: MissingReason] = [:],
        suspects: [NodeID: String] = [:], attempt: Int, rollout: RolloutRecord? = nil
    ) {
        self.announcement = announcement
        self.required = required
        self.acks = acks
        self.hints = hints
        self.suspects = suspects
        self.attempt = attempt
        self.rollout = rollout
    }

    /// Required nodes without an active ack, each with the best reason the ledger has.
    public var missing: [NodeID: MissingReason] {
        var out: [NodeID: MissingReason] = [:]
        for node in required where acks[node]?.status != .active {
            if let reason = rollout?.missingReason(node, ack: acks[node], version: announcement.version) {
                out[node] = reason
            } else if let ack = acks[node], ack.status == .refused {
                out[node] = MissingReason(.refused, ack.reason)
            } else {
                out[node] = hints[node] ?? MissingReason(.timeout, "no ack reached the ledger")
            }
        }
        return out
    }

    /// How many nodes acked `active`.
    public var activeCount: Int { acks.values.filter { $0.status == .active }.count }
}

/// One node's verified answer.
public struct AckRecord: Sendable, Hashable {
    /// Activated or refused.
    public var status: Ack.Status
    /// Why it refused (empty for an activation).
    public var reason: String
    /// When the node signed the ack, by its clock.
    public var at: Timestamp

    /// A verified answer.
    public init(status: Ack.Status, reason: String, at: Timestamp) {
        self.status = status
        self.reason = reason
        self.at = at
    }
}

/// An entry of the audit log, before the shell adds who asked and the hash chain.
public enum AuditEvent: Sendable, Hashable, CustomStringConvertible {
    case staged(Version, manifest: Key, label: String)
    case transition(Version, from: VersionStatus, to: VersionStatus, detail: String)
    /// A decision of a rollout's waves or activation: a wave started, passed or failed its gates, a pause, a resume,
    /// an abort, an activation, a rollback (`step` names the kind of decision).
    case rollout(Version, step: String, detail: String)

    /// The event's kind as the audit log stores it.
    public var kind: String {
        switch self {
        case .staged: "stage"
        case .transition: "transition"
        case .rollout: "rollout"
        }
    }

    /// The event in words.
    public var description: String {
        switch self {
        case .staged(let v, let m, let label): "staged \(v) manifest \(m.hex) (\(label))"
        case .transition(let v, let from, let to, let detail): "\(v): \(from) → \(to) (\(detail))"
        case .rollout(let v, let step, let detail): "\(v) \(step): \(detail)"
        }
    }
}

/// Things the ledger logs because the machine decided they matter.
public enum LedgerReport: Sendable, Hashable, CustomStringConvertible {
    case ackRejected(node: NodeID?, version: Version?, reason: String)
    case tamperingRelay(NodeID, version: Version, detail: String)

    /// The report as the ledger logs it.
    public var description: String {
        switch self {
        case .ackRejected(let node, let version, let reason):
            "rejected ack from \(node?.rawValue ?? "unknown node") for \(version?.description ?? "unknown version"): \(reason)"
        case .tamperingRelay(let node, let version, let detail):
            "relay \(node) served tampered bytes during \(version): \(detail)"
        }
    }
}
