/// A relay's bundle of its own ack and its subtree's acks, plus who is missing and why (DESIGN §5).
///
/// The acks travel as the signed envelopes their nodes made, verbatim, so the ledger checks each node's own
/// signature and trusts no relay's word. `missing` is only the relay's report; it proves nothing.
public struct Aggregate: CanonicalDocument {
    public static let documentName = "aggregate"
    public static let maxBytes = 64 << 20
    public static let fields: Set<String> = ["fleet", "version", "relay", "acks", "missing", "orphaned", "reports"]

    public struct Missing: Sendable, Hashable {
        public var node: NodeID
        public var reason: MissingReason

        public init(node: NodeID, reason: MissingReason) {
            self.node = node
            self.reason = reason
        }
    }

    public var fleet: FleetName
    public var version: Version
    /// Who sent this aggregate (for an orphan's direct ack, the orphan itself).
    public var relay: NodeID
    public var acks: [SignedEnvelope]
    public var missing: [Missing]
    /// True when a node that was never contacted through the tree pulled from the store and acks directly.
    public var orphaned: Bool
    /// Signed tamper reports (`TamperReport`), passed up unchanged like the acks: each is its victim's word.
    public var reports: [SignedEnvelope]

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

    public init(reading r: FieldReader) throws(DocumentError) {
        fleet = try r.fleet("fleet")
        version = try r.version("version")
        relay = try r.node("relay")
        acks = try r.elements("acks", maxCount: Self.maxAcks) { (value, path) throws(DocumentError) in
            try SignedEnvelope(json: value, document: Self.documentName, path: path)
        }
        missing = try r.elements("missing", maxCount: Self.maxAcks) { (value, path) throws(DocumentError) -> Missing in
            let m = try FieldReader(value, document: Self.documentName, path: path, allowed: ["node", "reason"])
            let text = try m.string("reason")
            return Missing(node: try m.node("node"), reason: MissingReason(text))
        }
        orphaned = r.has("orphaned") ? try r.bool("orphaned") : false
        reports = r.has("reports")
            ? try r.elements("reports", maxCount: Self.maxAcks) { (value, path) throws(DocumentError) in
                try SignedEnvelope(json: value, document: Self.documentName, path: path)
            } : []
    }

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
        /// Anything this version of Ben has no word for.
        case other
    }

    public var code: Code
    public var detail: String

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

    public var text: String { detail.isEmpty ? code.rawValue : "\(code.rawValue): \(detail)" }
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
