/// What `benctl status` shows about one version (the `status` verb's answer): where it stands, how many signed
/// acks the ledger verified, and every node without one, grouped by location and reason first (DESIGN §7).
public struct DeploymentStatus: CanonicalDocument {
    /// The name errors give the document.
    public static let documentName = "deployment status"
    /// Larger input is refused unread (64 MiB: every missing node of a large fleet fits).
    public static let maxBytes = 64 << 20
    /// The members a status may have; any other is refused.
    public static let fields: Set<String> = [
        "fleet", "version", "status", "manifest", "label", "attempt", "required", "active", "refused", "issued_at",
        "deadline", "changed_at", "missing", "groups", "suspects", "bundle_size", "ledger_egress", "messages_at_ledger",
        "stripes", "depth", "fan_out", "answers", "alarms", "rollout", "locations",
    ]

    /// What one node has answered about the version, for nodes a caller asked about by name (`--retry` prints
    /// what happened to each node it retried).
    public struct NodeAnswer: Sendable, Hashable {
        /// `active`, `refused`, or `none` (no verified ack).
        public var status: String
        /// The node asked about.
        public var node: NodeID
        /// When the node signed its answer.
        public var at: Timestamp?
        /// Why the node refused, or why it has no verified ack; empty when active.
        public var reason: String

        /// One node's answer as the ledger reports it.
        public init(node: NodeID, status: String, at: Timestamp?, reason: String) {
            self.node = node
            self.status = status
            self.at = at
            self.reason = reason
        }
    }

    /// A required node without a verified ack, where it is, and why.
    public struct MissingNode: Sendable, Hashable {
        /// The node.
        public var node: NodeID
        /// region/zone/rack, from the topology.
        public var location: String
        /// Why it has no verified ack, as best the ledger knows.
        public var reason: MissingReason

        /// A missing node at `location`, and why.
        public init(node: NodeID, location: String, reason: MissingReason) {
            self.node = node
            self.location = location
            self.reason = reason
        }
    }

    /// Missing nodes that share a location and a reason code.
    public struct Group: Sendable, Hashable {
        /// The location the nodes share (region/zone/rack).
        public var location: String
        /// The reason code they share.
        public var code: MissingReason.Code
        /// How many nodes.
        public var count: Int
    }

    /// An alarm the ledger raised: something other than its own current announcement appeared at the head of
    /// the announcement stream (a foreign key, a replay, a version it never announced) and was replaced. Shown
    /// with every status for a day; the audit log keeps it for good.
    public struct Alarm: Sendable, Hashable {
        /// When the ledger found it.
        public var at: Timestamp
        /// The audit log's kind: `stream_foreign_key`, `replay`, `stale_epoch`, `stream_unknown_announcement`,
        /// `stream_unreadable`.
        public var kind: String
        /// What appeared, in words, and what replaced it.
        public var detail: String

        /// An alarm of `kind`, found `at`.
        public init(at: Timestamp, kind: String, detail: String) {
            self.at = at
            self.kind = kind
            self.detail = detail
        }
    }

    /// A relay the ledger suspects of serving bad bytes or dropping acks, with what it saw.
    public struct Suspect: Sendable, Hashable {
        /// The suspected relay.
        public var node: NodeID
        /// What points at it, in words.
        public var detail: String

        /// A suspect and why.
        public init(node: NodeID, detail: String) {
            self.node = node
            self.detail = detail
        }
    }

    /// The fleet.
    public var fleet: FleetName
    /// The version this status is about.
    public var version: Version
    /// staged, deploying, active, incomplete, superseded or aborted.
    public var status: String
    /// The version's manifest.
    public var manifest: Key
    /// The label given at staging (often the intent folder's name); may be empty.
    public var label: String
    /// Which rollout of the version this is: 1, then one more for each `--retry`.
    public var attempt: Int
    /// Nodes that must ack for the version to be active (targets not down or in maintenance).
    public var required: Int
    /// Nodes whose signed `active` ack the ledger verified.
    public var active: Int
    /// Nodes whose signed refusal the ledger verified.
    public var refused: Int
    /// When the announcement was signed; nil for a version only staged.
    public var issuedAt: Timestamp?
    /// When the ledger decides; nil for a version only staged.
    public var deadline: Timestamp?
    /// When `status` last changed.
    public var changedAt: Timestamp
    /// Every required node without a verified ack.
    public var missing: [MissingNode]
    /// `missing` grouped by location and reason code, largest group first (see `group(_:)`).
    public var groups: [Group]
    /// Relays the ledger suspects; empty when none.
    public var suspects: [Suspect]
    /// The bytes of the bundle's artifacts.
    public var bundleSize: Int64
    /// Bytes the ledger sent into the trees and to pullers for this version.
    public var ledgerEgress: Int64
    /// Messages about this version that reached the ledger (aggregates on its links and over NATS).
    public var messagesAtLedger: Int
    /// Stripe trees in the plan (0 before one is made).
    public var stripes: Int
    /// The plan's deepest tree, in hops from the ledger.
    public var depth: Int
    /// The plan's nominal fan-out.
    public var fanOut: Int
    /// Answers of the nodes the request named (empty otherwise).
    public var answers: [NodeAnswer] = []
    /// Alarms the ledger raised in the last day, newest first (empty: none; omitted from the JSON then).
    public var alarms: [Alarm] = []
    /// Two-phase activation and waves, when the rollout has them.
    public var rollout: RolloutStatus?
    /// The required nodes by location (region/zone), with what they answered.
    public var locations: [LocationProgress] = []

    /// A status as the ledger reports it; `answers` starts empty.
    public init(
        fleet: FleetName, version: Version, status: String, manifest: Key, label: String, attempt: Int, required: Int, active: Int,
        refused: Int, issuedAt: Timestamp?, deadline: Timestamp?, changedAt: Timestamp, missing: [MissingNode], groups: [Group],
        suspects: [Suspect], bundleSize: Int64, ledgerEgress: Int64, messagesAtLedger: Int, stripes: Int, depth: Int, fanOut: Int
    ) {
        self.fleet = fleet
        self.version = version
        self.status = status
        self.manifest = manifest
        self.label = label
        self.attempt = attempt
        self.required = required
        self.active = active
        self.refused = refused
        self.issuedAt = issuedAt
        self.deadline = deadline
        self.changedAt = changedAt
        self.missing = missing
        self.groups = groups
        self.suspects = suspects
        self.bundleSize = bundleSize
        self.ledgerEgress = ledgerEgress
        self.messagesAtLedger = messagesAtLedger
        self.stripes = stripes
        self.depth = depth
        self.fanOut = fanOut
    }

    /// Groups missing nodes by (location, reason code), largest first.
    public static func group(_ missing: [MissingNode]) -> [Group] {
        var counts: [String: [MissingReason.Code: Int]] = [:]
        for m in missing { counts[m.location, default: [:]][m.reason.code, default: 0] += 1 }
        var groups: [Group] = []
        for (location, byCode) in counts {
            for (code, count) in byCode { groups.append(Group(location: location, code: code, count: count)) }
        }
        return groups.sorted { ($0.count, $1.location, $1.code.rawValue) > ($1.count, $0.location, $0.code.rawValue) }
    }

    /// Reads a status strictly; an unknown reason code in `groups` reads as `.other`, so a newer ledger's codes do
    /// not break an older benctl.
    public init(reading r: FieldReader) throws(DocumentError) {
        fleet = try r.fleet("fleet")
        version = try r.version("version")
        status = try r.string("status")
        manifest = try r.key("manifest")
        label = try r.string("label")
        attempt = Int(try r.int("attempt"))
        required = Int(try r.int("required"))
        active = Int(try r.int("active"))
        refused = Int(try r.int("refused"))
        issuedAt = r.has("issued_at") ? try r.timestamp("issued_at") : nil
        deadline = r.has("deadline") ? try r.timestamp("deadline") : nil
        changedAt = try r.timestamp("changed_at")
        missing = try r.objects("missing", allowed: ["node", "location", "reason"]) { (m) throws(DocumentError) -> MissingNode in
            MissingNode(node: try m.node("node"), location: try m.string("location"), reason: MissingReason(try m.string("reason")))
        }
        groups = try r.objects("groups", allowed: ["location", "code", "count"]) { (g) throws(DocumentError) -> Group in
            let code = MissingReason.Code(rawValue: try g.string("code")) ?? .other
            return Group(location: try g.string("location"), code: code, count: Int(try g.int("count")))
        }
        suspects = try r.objects("suspects", allowed: ["node", "detail"]) { (s) throws(DocumentError) -> Suspect in
            Suspect(node: try s.node("node"), detail: try s.string("detail"))
        }
        bundleSize = try r.int("bundle_size")
        ledgerEgress = try r.int("ledger_egress")
        messagesAtLedger = Int(try r.int("messages_at_ledger"))
        stripes = Int(try r.int("stripes"))
        depth = Int(try r.int("depth"))
        fanOut = Int(try r.int("fan_out"))
        if r.has("rollout") {
            rollout = try RolloutStatus(reading: r.object("rollout", allowed: RolloutStatus.fields))
        }
        if r.has("locations") {
            locations = try r.objects("locations", allowed: LocationProgress.fields) { (l) throws(DocumentError) -> LocationProgress in
                LocationProgress(
                    location: try l.string("location"), required: Int(try l.int("required")), active: Int(try l.int("active")),
                    prepared: Int(try l.int("prepared")), refused: Int(try l.int("refused")))
            }
        }
        if r.has("answers") {
            answers = try r.objects("answers", allowed: ["node", "status", "at", "reason"]) { (a) throws(DocumentError) -> NodeAnswer in
                NodeAnswer(
                    node: try a.node("node"), status: try a.string("status"), at: a.has("at") ? try a.timestamp("at") : nil,
                    reason: try a.string("reason"))
            }
        }
        if r.has("alarms") {
            alarms = try r.objects("alarms", allowed: ["at", "kind", "detail"]) { (a) throws(DocumentError) -> Alarm in
                Alarm(at: try a.timestamp("at"), kind: try a.string("kind"), detail: try a.string("detail"))
            }
        }
    }

    /// How long after its deadline the version became active (a late ack), if it did.
    public var activeAfterDeadline: Duration? {
        guard status == "active", let deadline, changedAt > deadline else { return nil }
        return changedAt - deadline
    }

    /// The status as the `status` verb answers; optional members appear only when set.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "fleet": .string(fleet.rawValue), "version": .int(Int64(version.rawValue)), "status": .string(status),
            "manifest": .string(manifest.hex), "label": .string(label), "attempt": .int(Int64(attempt)),
            "required": .int(Int64(required)), "active": .int(Int64(active)), "refused": .int(Int64(refused)),
            "changed_at": .string(changedAt.rfc3339),
            "missing": .array(
                missing.map { ["node": .string($0.node.rawValue), "location": .string($0.location), "reason": .string($0.reason.text)] }),
            "groups": .array(
                groups.map { ["location": .string($0.location), "code": .string($0.code.rawValue), "count": .int(Int64($0.count))] }),
            "suspects": .array(suspects.map { ["node": .string($0.node.rawValue), "detail": .string($0.detail)] }),
            "bundle_size": .int(bundleSize), "ledger_egress": .int(ledgerEgress),
            "messages_at_ledger": .int(Int64(messagesAtLedger)),
            "stripes": .int(Int64(stripes)), "depth": .int(Int64(depth)), "fan_out": .int(Int64(fanOut)),
        ]
        if !answers.isEmpty {
            object["answers"] = .array(
                answers.map { a in
                    var o: [String: JSONValue] = [
                        "node": .string(a.node.rawValue), "status": .string(a.status), "reason": .string(a.reason),
                    ]
                    if let at = a.at { o["at"] = .string(at.rfc3339) }
                    return .object(o)
                })
        }
        if !alarms.isEmpty {
            object["alarms"] = .array(
                alarms.map { ["at": .string($0.at.rfc3339), "kind": .string($0.kind), "detail": .string($0.detail)] })
        }
        if let rollout { object["rollout"] = rollout.json }
        if !locations.isEmpty { object["locations"] = .array(locations.map(\.json)) }
        if let issuedAt { object["issued_at"] = .string(issuedAt.rfc3339) }
        if let deadline { object["deadline"] = .string(deadline.rfc3339) }
        return .object(object)
    }

    /// The one-line summary (DESIGN §7): "997/1000 active; missing: rack eu-1/az2/r7 (3 nodes, unreachable)".
    public var summary: String {
        var line = "\(version) \(status): \(active)/\(required) active"
        if status == "active" {
            line += " since \(changedAt.clockTime)"
            if let late = activeAfterDeadline { line += ", \(late.secondsText) after the deadline" }
        }
        if refused > 0 { line += ", \(refused) refused" }
        if let rollout, let step = rollout.summary(status: status) { line += "; \(step)" }
        if !groups.isEmpty {
            let shown = groups.prefix(3).map { "\($0.location) (\($0.count) node\($0.count == 1 ? "" : "s"), \($0.code.rawValue))" }
            line += "; missing: " + shown.joined(separator: ", ")
            if groups.count > 3 { line += ", and \(groups.count - 3) more group\(groups.count == 4 ? "" : "s")" }
        }
        return line
    }
}
