/// A relay's bundle of its own ack and its subtree's acks, plus who is missing and why (DESIGN §5).
///
/// The acks travel as the signed envelopes their nodes made, verbatim, so the ledger checks each node's own
/// signature and trusts no relay's word. `missing` is only the relay's report; it proves nothing.
public struct Aggregate: CanonicalDocument {
    /// The name errors give the document.
    public static let documentName = "aggregate"
    /// Larger input is refused unread: 64 MiB, room for a large subtree's acks.
    public static let maxBytes = 64 << 20
    /// The members an aggregate may have; any other is refused.
    public static let fields: Set<String> = ["fleet", "version", "relay", "acks", "missing", "orphaned", "reports"]

    /// A node of the relay's subtree whose ack the relay does not have, and why (the relay's word only).
    public struct Missing: Sendable, Hashable {
        /// The node without an ack.
        public var node: NodeID
        /// Why, as the relay saw it.
        public var reason: MissingReason

        /// A missing node and why.
        public init(node: NodeID, reason: MissingReason) {
            self.node = node
            self.reason = reason
        }
    }

    /// The fleet the acks are for.
    public var fleet: FleetName
    /// The version the acks answer.
    public var version: Version
    /// Who sent this aggregate (for an orphan's direct ack, the orphan itself).
    public var relay: NodeID
    /// The nodes' own signed acks, as each node signed it; at most `maxAcks`.
    public var acks: [SignedEnvelope]
    /// The subtree's nodes without an ack; at most `maxAcks`.
    public var missing: [Missing]
    /// True when a node that was never contacted through the tree pulled from the store and acks directly.
    public var orphaned: Bool
    /// Signed tamper reports (`TamperReport`), passed up unchanged like the acks: each is its victim's word.
    public var reports: [SignedEnvelope]

    /// An aggregate as a relay (or an orphan, with `orphaned`) sends it, with the signed tamper reports it passes up.
    public init(
        fleet: FleetName, version: Version, relay: NodeID, acks: [SignedEnvelope], missing: [Missing], orphaned: Bool = false,
        reports: [SignedEnvelope] = []
    ) {
        self.reports = reports
        self.fleet = fleet
        self.version = version
        self.relay = relay
        self.acks = acks
        self.missing = missing
        self.orphaned = orphaned
    }

    /// The most acks, and the most missing nodes, one aggregate may list.
    public static let maxAcks = 1 << 20

    /// Reads an aggregate as it travels: a signed envelope (`ben/aggregate/v1`, what relays send), or the bare
    /// document. The envelope is returned for the ledger to check against the sender's key; this does not.
    public static func read(_ bytes: some Collection<UInt8>) throws(DocumentError) -> (Aggregate, SignedEnvelope?) {
        let json = try parseDocumentJSON(bytes, document: documentName, maxBytes: maxBytes)
        if case .object(let members) = json, members["signed"] != nil {
            let envelope = try SignedEnvelope(json: json, document: documentName)
            return (try envelope.document(as: Aggregate.self), envelope)
        }
        return (try Aggregate(json: json), nil)
    }

    /// The nodes the acks say they are from (unverified: for routing and bookkeeping, never for proof).
    public var ackNodes: [NodeID] {
        acks.compactMap { envelope in envelope.signed["node"]?.stringValue.flatMap { NodeID($0) } }
    }

    /// Reads an aggregate strictly; each ack must be a well-formed envelope, but none is verified here.
    public init(reading r: FieldReader) throws(DocumentError) {
        fleet = try r.fleet("fleet")
        version = try r.version("version")
        relay = try r.node("relay")
        acks = try r.envelopes("acks", maxCount: Self.maxAcks)
        missing = try r.objects("missing", maxCount: Self.maxAcks, allowed: ["node", "reason"]) { (m) throws(DocumentError) -> Missing in
            let text = try m.string("reason")
            return Missing(node: try m.node("node"), reason: MissingReason(text))
        }
        orphaned = r.has("orphaned") ? try r.bool("orphaned") : false
        reports = r.has("reports") ? try r.envelopes("reports", maxCount: Self.maxAcks) : []
    }

    /// The aggregate as it travels; `orphaned` appears only when true.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "fleet": .string(fleet.rawValue),
            "version": .int(Int64(version.rawValue)),
            "relay": .string(relay.rawValue),
            "acks": .array(acks.map(\.json)),
            "missing": .array(missing.map { .object(["node": .string($0.node.rawValue), "reason": .string($0.reason.text)]) }),
        ]
        if orphaned { object["orphaned"] = .bool(true) }
        if !reports.isEmpty { object["reports"] = .array(reports.map(\.json)) }
        return .object(object)
    }
}

/// Why a node is missing from an aggregate or from a deployment's result: a code word an operator can group
/// by, then detail (`unreachable: connection refused`).
public struct MissingReason: Sendable, Hashable, CustomStringConvertible {
    /// The kind of reason, what status groups missing nodes by; the raw value is the word on the wire.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The parent could not connect, or the link dropped and did not come back.
        case unreachable
        /// Connected, but no ack came back before the deadline.
        case timeout
        /// The node sent a signed refusal (its reason follows).
        case refused
        /// A relay served bytes that did not match their key.
        case tamperedRelay = "tampered_relay"
        /// The node was down when the plan was made, or excluded.
        case down
        /// Two-phase: the node prepared the version (its signed `prepared` ack is held) but no signed `active` ack
        /// followed the activation: it did not receive it, or did not swap. It serves its old version.
        case prepared
        /// A rollout in waves has not reached the node's wave yet.
        case pending
        /// A rollout in waves was aborted before the node's wave: it never received the version.
        case aborted
        /// Anything this version of Ben has no word for.
        case other
    }

    /// The kind of reason.
    public var code: Code
    /// What happened, in words (at most 512 bytes); may be empty.
    public var detail: String

    /// A reason of `code` with `detail`; a longer detail is cut to its first 512 bytes (and dropped whole if the
    /// cut would split a character).
    public init(_ code: Code, _ detail: String = "") {
        self.code = code
        self.detail = String(detail.utf8.prefix(512)) ?? ""
    }

    /// Parses "code: detail"; an unknown code keeps the whole text as detail under `.other`.
    public init(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1)
        if let first = parts.first, let code = Code(rawValue: String(first).trimmingSpaces) {
            self.init(code, parts.count > 1 ? String(parts[1]).trimmingSpaces : "")
        } else {
            self.init(.other, text)
        }
    }

    /// The reason as it travels and prints: `code: detail`, or the code alone; `init(_:)` reads it back.
    public var text: String { detail.isEmpty ? code.rawValue : "\(code.rawValue): \(detail)" }
    /// The reason's text (`text`).
    public var description: String { text }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
