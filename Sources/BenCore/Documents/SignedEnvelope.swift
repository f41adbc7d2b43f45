/// What a signature is over: the context names the purpose so that a signature made for one purpose can
/// never be replayed as another (an ack signature is never a valid announcement signature).
public enum SignatureContext: String, Sendable, Hashable, CaseIterable {
    /// The ledger's announcement of a version.
    case announce = "ben/announce/v1"
    /// A node's ack.
    case ack = "ben/ack/v1"
    /// The ledger's word on one node's place in a plan: its `Assignment`.
    case plan = "ben/plan/v1"
    /// A certificate: a key vouching for another.
    case cert = "ben/cert/v1"
    /// An operator's request to the ledger API that changes state.
    case operatorRequest = "ben/operator/v1"
    /// Each side of a peer link, over the link handshake's transcript (DESIGN §9).
    case link = "ben/link/v1"
    /// A relay's aggregate: its claims about other nodes are its own (DESIGN §9).
    case aggregate = "ben/aggregate/v1"
    /// A node's own report that a feeder served it bytes that did not match their key.
    case report = "ben/report/v1"
    /// The ledger's activation of a prepared version at a barrier time (two-phase rollouts, DESIGN §9).
    case activate = "ben/activate/v1"
    /// The ledger's alarm: stop a version (an aborted rollout); see `Alarm`.
    case alarm = "ben/alarm/v1"
    /// The ledger's revocation of a node key; see `Revocation`.
    case revoke = "ben/revoke/v1"
    /// A gossip datagram, signed by its sender's topology key (the ledger's key for the ledger); see GossipWire.
    case gossip = "ben/gossip/v1"

    /// The bytes Ed25519 signs: `context + 0x00 + canonical bytes` (DESIGN §5).
    public func signingInput(_ canonical: some Collection<UInt8>) -> [UInt8] {
        var input = Array(rawValue.utf8)
        input.reserveCapacity(input.count + 1 + canonical.count)
        input.append(0)
        input.append(contentsOf: canonical)
        return input
    }
}

/// One signature in an envelope: the signer's key id (first 16 hex digits of BLAKE2b-256 of the raw public key)
/// and the 64-byte Ed25519 signature.
public struct Signature: Sendable, Hashable {
    /// Which key signed: the first 16 lowercase hex digits of the BLAKE2b-256 of its raw public key. Envelopes read
    /// from the wire always carry a well-formed one.
    public var keyID: String
    /// The Ed25519 signature over the context and the canonical bytes of `signed`; 64 bytes in any envelope read
    /// from the wire.
    public var bytes: [UInt8]

    /// A signature as a signer made it; nothing is checked here (a verifier checks it against a key).
    public init(keyID: String, bytes: [UInt8]) {
        self.keyID = keyID
        self.bytes = bytes
    }

    /// Whether `s` is a key id as envelopes spell it: 16 lowercase hex digits.
    public static func isKeyID(_ s: String) -> Bool { s.utf8.count == 16 && Hex.decode(s) != nil && s == s.lowercased() }
}

/// A signed document as it travels: `{"signed": {...}, "signatures": [{"keyid": K, "sig": base64}]}`.
///
/// `signed` is kept as the JSON value that arrived, so the bytes a verifier checks are the canonical form of
/// exactly what the signer sent, whatever this version of Ben understands of it.
public struct SignedEnvelope: CanonicalJSONConvertible, Sendable, Hashable {
    /// The signed document exactly as it arrived (an object), whatever of it this version of Ben understands.
    public var signed: JSONValue
    /// One or more signatures over `signed`; an envelope read from the wire has 1 to `maxSignatures`.
    public var signatures: [Signature]

    /// An envelope of a document and its signatures, as a signer assembles it.
    public init(signed: JSONValue, signatures: [Signature]) {
        self.signed = signed
        self.signatures = signatures
    }

    /// The canonical bytes of `signed`, which each signature covers (after its context).
    public func signedBytes() throws(DocumentError) -> [UInt8] {
        do {
            return try CanonicalJSON.encode(signed)
        } catch {
            throw DocumentError(document: "envelope", field: "signed", code: .invalidValue, detail: error.description)
        }
    }

    /// Reads the signed document as `D`. This does not check signatures: BenCrypto's verifier does that first.
    public func document<D: CanonicalDocument>(as type: D.Type = D.self) throws(DocumentError) -> D {
        try D(json: signed, path: "signed")
    }

    /// `{"signed": …, "signatures": [{"keyid": …, "sig": base64}]}`: the form that travels.
    public var json: JSONValue {
        .object([
            "signed": signed,
            "signatures": .array(
                signatures.map { .object(["keyid": .string($0.keyID), "sig": .string(Base64.encode($0.bytes))]) }),
        ])
    }

    /// The name in error messages when no more specific one is given.
    public static let documentName = "envelope"

    /// The most signatures an envelope may carry; more are refused before any is checked.
    public static let maxSignatures = 16

    /// Reads an envelope strictly: only `signed` (an object) and `signatures` (1 to `maxSignatures`, each a
    /// well-formed key id and a 64-byte base64 signature). Errors name `document` and the field under `path`.
    /// Signatures are not verified here.
    public init(json: JSONValue, document: String = "envelope", path: String = "") throws(DocumentError) {
        let reader = try FieldReader(json, document: document, path: path, allowed: ["signed", "signatures"])
        let signed = try reader.value("signed")
        guard case .object = signed else {
            throw reader.error("signed", .wrongType, "expected an object, found \(signed.typeName)")
        }
        let signatures = try reader.objects("signatures", maxCount: Self.maxSignatures, allowed: ["keyid", "sig"]) {
            (r) throws(DocumentError) -> Signature in
            let keyID = try r.string("keyid")
            guard Signature.isKeyID(keyID) else { throw r.error("keyid", .invalidValue, "expected 16 lowercase hex digits") }
            guard let sig = Base64.decode(try r.string("sig")), sig.count == 64 else {
                throw r.error("sig", .invalidValue, "expected a base64 Ed25519 signature of 64 bytes")
            }
            return Signature(keyID: keyID, bytes: sig)
        }
        guard !signatures.isEmpty else { throw reader.error("signatures", .invalidValue, "no signatures") }
        self.init(signed: signed, signatures: signatures)
    }

    /// Parses and reads an envelope from bytes, refusing input over `maxBytes` unread; errors name `document`.
    public static func decode(_ bytes: some Collection<UInt8>, document: String, maxBytes: Int) throws(DocumentError)
        -> SignedEnvelope
    {
        try SignedEnvelope(json: try parseDocumentJSON(bytes, document: document, maxBytes: maxBytes), document: document)
    }

    /// Parses an envelope of a `D` (refusing input over `D.maxBytes` unread) and reads its signed document; errors
    /// name `D`. Signatures are not checked here: the caller verifies `envelope` against the signer's key.
    public static func decode<D: CanonicalDocument>(_ bytes: some Collection<UInt8>, as type: D.Type) throws(DocumentError)
        -> (envelope: SignedEnvelope, document: D)
    {
        let envelope = try decode(bytes, document: D.documentName, maxBytes: D.maxBytes)
        return (envelope, try envelope.document(as: D.self))
    }
}

extension FieldReader {
    /// The member `name` as a signed envelope, read strictly but not verified (the caller checks it against the
    /// signer's key); errors name this reader's document and the field.
    public func envelope(_ name: String) throws(DocumentError) -> SignedEnvelope {
        try SignedEnvelope(json: try value(name), document: document, path: fieldPath(name))
    }

    /// The array member `name` of signed envelopes, at most `maxCount`, each read as `envelope(_:)` reads one.
    public func envelopes(_ name: String, maxCount: Int) throws(DocumentError) -> [SignedEnvelope] {
        let document = self.document
        return try elements(name, maxCount: maxCount) { (value, path) throws(DocumentError) in
            try SignedEnvelope(json: value, document: document, path: path)
        }
    }
}
