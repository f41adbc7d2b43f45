public import BenCore
import CSodium

/// An Ed25519 public key: 32 bytes, written as 64 lowercase hex digits in topologies and configs.
public struct PublicKey: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]
    /// First 16 hex digits of BLAKE2b-256 of the raw key (DESIGN §5): how signatures name their signer.
    public let keyID: String

    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
        self.keyID = String(BLAKE2b.key(of: bytes).hex.prefix(16))
    }

    public init?(hex: some StringProtocol) {
        guard let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    /// Whether `signature` is this key's Ed25519 signature over `context + 0x00 + message`.
    public func isValidSignature(_ signature: [UInt8], over message: [UInt8], context: SignatureContext) -> Bool {
        isValidSignature(signature, overRaw: context.signingInput(message))
    }

    /// Plain Ed25519 verification of `message` as given, with no context (RFC 8032 vectors use this).
    public func isValidSignature(_ signature: [UInt8], overRaw message: [UInt8]) -> Bool {
        Sodium.ensure()
        guard signature.count == 64 else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), bytes) == 0
    }
}

/// An Ed25519 signing key, kept as its 32-byte seed (RFC 8032's private key). The expanded secret lives only
/// in this value's memory and is wiped when the last copy goes.
public struct SigningKey: Sendable {
    private let storage: SecretStorage
    public let publicKey: PublicKey

    /// A fresh key from libsodium's CSPRNG.
    public static func generate() -> SigningKey {
        Sodium.ensure()
        var seed = [UInt8](repeating: 0, count: 32)
        randombytes_buf(&seed, 32)
        defer { sodium_memzero(&seed, 32) }
        return SigningKey(seed: seed)!
    }

    /// The key whose seed is `seed` (32 bytes); nil for any other length.
    public init?(seed: [UInt8]) {
        guard seed.count == 32 else { return nil }
        Sodium.ensure()
        let storage = SecretStorage(seed: seed)
        self.storage = storage
        self.publicKey = PublicKey(bytes: storage.publicKey)!
    }

    public var keyID: String { publicKey.keyID }

    /// The seed, for writing a key file. Handle with care.
    public var seed: [UInt8] { storage.seed }

    /// Ed25519 signature over `context + 0x00 + message`.
    public func sign(_ message: [UInt8], context: SignatureContext) -> [UInt8] {
        signRaw(context.signingInput(message))
    }

    /// Plain Ed25519 over `message` as given.
    public func signRaw(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: 64)
        storage.withSecret { secret in
            _ = crypto_sign_detached(&signature, nil, message, UInt64(message.count), secret)
        }
        return signature
    }

    /// Signs a document's canonical bytes and wraps them in an envelope.
    public func envelope(_ document: some CanonicalDocument, context: SignatureContext) -> SignedEnvelope {
        let signature = sign(document.canonicalBytes, context: context)
        return SignedEnvelope(signed: document.json, signatures: [Signature(keyID: keyID, bytes: signature)])
    }
}

/// Holds the 64-byte expanded secret in memory it wipes on release.
///
/// Immutable after init, so sharing it across threads is safe; `@unchecked` only because it owns a raw buffer.
private final class SecretStorage: @unchecked Sendable {
    private let secret: UnsafeMutablePointer<UInt8>
    let publicKey: [UInt8]
    let seed: [UInt8]

    init(seed: [UInt8]) {
        secret = .allocate(capacity: 64)
        var pk = [UInt8](repeating: 0, count: 32)
        _ = crypto_sign_seed_keypair(&pk, secret, seed)
        publicKey = pk
        self.seed = seed
    }

    func withSecret<R>(_ body: (UnsafePointer<UInt8>) -> R) -> R { body(secret) }

    deinit {
        sodium_memzero(secret, 64)
        secret.deallocate()
    }
}
