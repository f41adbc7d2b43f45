/// The signed part of an operator's request to the ledger API (`ben.<fleet>.api.<verb>`) that changes state
/// (DESIGN §5, context `ben/operator/v1`). It travels in the `Ben-Request` header; the payload is the body,
/// which the request names by key, so one signature covers both.
///
/// The ledger refuses a request not signed by a trusted operator key, for another fleet or verb, more than
/// five minutes from its clock, or whose nonce it has already seen (a replay).
public struct OperatorRequest: CanonicalDocument {
    /// The name errors give the document.
    public static let documentName = "operator request"
    /// Larger input is refused unread (64 KiB).
    public static let maxBytes = 64 << 10
    /// The members a request may have; any other is refused.
    public static let fields: Set<String> = ["fleet", "verb", "at", "nonce", "body", "args"]

    /// The fleet the request is for; another fleet's ledger refuses it.
    public var fleet: FleetName
    /// The API verb (`deploy`); it must match the subject the request arrived on.
    public var verb: String
    /// When the operator signed it; more than `OperatorAPI.clockSkew` from the ledger's clock is refused.
    public var at: Timestamp
    /// 32 hex digits, fresh per request.
    public var nonce: String
    /// Key of the payload bytes (the key of no bytes when there is no body).
    public var body: Key
    /// The verb's arguments (an object).
    public var args: JSONValue

    /// A request as benctl signs it.
    public init(fleet: FleetName, verb: String, at: Timestamp, nonce: String, body: Key, args: JSONValue) {
        self.fleet = fleet
        self.verb = verb
        self.at = at
        self.nonce = nonce
        self.body = body
        self.args = args
    }

    /// Reads a request strictly: a nonce of exactly 32 hex digits and `args` an object.
    public init(reading r: FieldReader) throws(DocumentError) {
        fleet = try r.fleet("fleet")
        verb = try r.string("verb")
        at = try r.timestamp("at")
        nonce = try r.string("nonce")
        guard nonce.utf8.count == 32, Hex.decode(nonce) != nil else {
            throw r.error("nonce", .invalidValue, "expected 32 hex digits")
        }
        body = try r.key("body")
        args = try r.value("args")
        guard case .object = args else { throw r.error("args", .wrongType, "expected an object") }
    }

    /// The request's canonical form, the bytes the operator signs.
    public var json: JSONValue {
        [
            "fleet": .string(fleet.rawValue), "verb": .string(verb), "at": .string(at.rfc3339), "nonce": .string(nonce),
            "body": .string(body.hex), "args": args,
        ]
    }
}

/// The header names the operator API uses on NATS messages.
public enum OperatorAPI {
    /// Header carrying the signed `OperatorRequest` envelope (canonical JSON).
    public static let requestHeader = "Ben-Request"
    /// Header on replies: `ok` or `error`.
    public static let statusHeader = "Ben-Status"

    /// Verbs that change state and must be signed.
    public static let signedVerbs: Set<String> = [
        "topology.apply", "stage.begin", "stage.chunk", "stage.commit", "deploy", "rollback",
        "activate", "rollout.pause", "rollout.resume", "rollout.abort", "revoke",
    ]

    /// Verbs anyone may call.
    public static let openVerbs: Set<String> = [
        "topology.show", "topology.get", "versions", "status", "log", "log.verify", "drift", "members",
    ]

    /// How far an operator's clock may be from the ledger's.
    public static let clockSkew: Duration = .seconds(300)

    /// Chunks are uploaded in parts no larger than this, so they fit NATS's default 1 MB payload limit.
    public static let maxPartBytes = 512 << 10
}
