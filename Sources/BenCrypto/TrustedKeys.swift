public import BenCore

/// The public keys a verifier accepts, by key id.
public struct TrustedKeys: Sendable {
    public private(set) var byID: [String: PublicKey]

    public init(_ keys: some Sequence<PublicKey>) {
        byID = [:]
        for key in keys { byID[key.keyID] = key }
    }

    public var isEmpty: Bool { byID.isEmpty }
    public var keys: [PublicKey] { Array(byID.values) }
}

/// Why a signed envelope was not accepted.
public enum VerificationFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// No signature in the envelope is by a key the verifier trusts.
    case unknownSigner(keyIDs: [String])
    /// A trusted key's signature does not match the bytes: forged, or the document was altered.
    case badSignature(keyID: String)
    /// The envelope or the signed document is malformed.
    case document(DocumentError)

    public var description: String {
        switch self {
        case .unknownSigner(let ids):
            "signed by \(ids.joined(separator: ", ")), none of which is a trusted key"
        case .badSignature(let id):
            "the signature by \(id) does not match the document (forged or altered)"
        case .document(let e):
            e.description
        }
    }
}

extension SignedEnvelope {
    /// Checks that a trusted key signed `signed` under `context`, and returns that key's id.
    ///
    /// Every signature by a trusted key must be valid; signatures by keys the verifier does not know are
    /// ignored, so a document can carry signatures meant for others.
    @discardableResult
    public func verify(context: SignatureContext, trusted: TrustedKeys) throws(VerificationFailure) -> String {
        let bytes: [UInt8]
        do { bytes = try signedBytes() } catch { throw .document(error) }
        let input = context.signingInput(bytes)
        var signer: String?
        for signature in signatures {
            guard let key = trusted.byID[signature.keyID] else { continue }
            guard key.isValidSignature(signature.bytes, overRaw: input) else {
                throw .badSignature(keyID: signature.keyID)
            }
            signer = signature.keyID
        }
        guard let signer else { throw .unknownSigner(keyIDs: signatures.map(\.keyID)) }
        return signer
    }

    /// Verifies, then reads the document.
    public func open<D: CanonicalDocument>(_ type: D.Type, context: SignatureContext, trusted: TrustedKeys)
        throws(VerificationFailure) -> D
    {
        try verify(context: context, trusted: trusted)
        do { return try document(as: D.self) } catch { throw .document(error) }
    }
}
