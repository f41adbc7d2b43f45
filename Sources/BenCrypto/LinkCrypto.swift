import CSodium

/// The record cipher a peer link uses once its handshake is done (docs/formats.md, "Peer link security").
public enum LinkCipherSuite: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// Authenticated only: the handshake proved both keys, the records are plain (`--link-encryption off`).
    case none = 0
    /// AES-256-GCM, where the CPU has AES-NI and carry-less multiply (libsodium says so at run time).
    case aes256gcm = 1
    /// ChaCha20-Poly1305 (IETF), everywhere else.
    case chacha20poly1305 = 2

    public var description: String {
        switch self {
        case .none: "none"
        case .aes256gcm: "aes-256-gcm"
        case .chacha20poly1305: "chacha20-poly1305"
        }
    }

    /// The suites this machine can run, best first.
    public static var available: [LinkCipherSuite] {
        Sodium.ensure()
        return crypto_aead_aes256gcm_is_available() == 1 ? [.aes256gcm, .chacha20poly1305] : [.chacha20poly1305]
    }

    /// Bytes of authentication tag each record carries.
    public var tagBytes: Int { self == .none ? 0 : 16 }
}

/// A link's ephemeral X25519 key pair (crypto_kx), made fresh for each handshake and dropped after it: the
/// session keys it yields die with the link (forward secrecy).
public final class LinkEphemeralKey: @unchecked Sendable {
    public let publicKey: [UInt8]
    private let secret: UnsafeMutableRawBufferPointer

    public init() {
        Sodium.ensure()
        var pk = [UInt8](repeating: 0, count: Int(crypto_kx_PUBLICKEYBYTES))
        secret = .allocate(byteCount: Int(crypto_kx_SECRETKEYBYTES), alignment: 16)
        _ = crypto_kx_keypair(&pk, secret.baseAddress!.assumingMemoryBound(to: UInt8.self))
        publicKey = pk
    }

    deinit {
        sodium_memzero(secret.baseAddress, secret.count)
        secret.deallocate()
    }

    /// The two session keys (receive, send), from crypto_kx and then bound to the handshake's transcript hash
    /// with keyed BLAKE2b, so keys from one handshake never serve another. Nil if the peer's key is invalid.
    public func sessionKeys(asClient: Bool, peer: [UInt8], transcript: [UInt8]) -> (receive: [UInt8], send: [UInt8])? {
        guard peer.count == Int(crypto_kx_PUBLICKEYBYTES) else { return nil }
        var rx = [UInt8](repeating: 0, count: Int(crypto_kx_SESSIONKEYBYTES))
        var tx = rx
        let sk = secret.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let status =
            asClient
            ? crypto_kx_client_session_keys(&rx, &tx, publicKey, sk, peer)
            : crypto_kx_server_session_keys(&rx, &tx, publicKey, sk, peer)
        guard status == 0 else { return nil }
        defer {
            sodium_memzero(&rx, rx.count)
            sodium_memzero(&tx, tx.count)
        }
        return (Self.bind(rx, transcript), Self.bind(tx, transcript))
    }

    private static func bind(_ key: [UInt8], _ transcript: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let label = Array("ben/link/v1 keys".utf8) + transcript
        _ = crypto_generichash(&out, 32, label, UInt64(label.count), key, key.count)
        return out
    }
}

/// One direction of a link's record protection: an AEAD key and a record counter that is the nonce. Each
/// direction has its own key, so a counter never repeats under a key. Used on one event loop only.
public final class LinkCipher: @unchecked Sendable {
    public let suite: LinkCipherSuite
    private var key: [UInt8]
    private var aesState: UnsafeMutableRawPointer?
    private var counter: UInt64 = 0

    /// - Parameter suite: `.aes256gcm` or `.chacha20poly1305`.
    public init(suite: LinkCipherSuite, key: [UInt8]) {
        precondition(suite != .none && key.count == 32, "a link cipher needs a suite and a 32-byte key")
        Sodium.ensure()
        self.suite = suite
        self.key = key
        if suite == .aes256gcm {
            let state = UnsafeMutableRawPointer.allocate(byteCount: crypto_aead_aes256gcm_statebytes(), alignment: 16)
            _ = crypto_aead_aes256gcm_beforenm(state.assumingMemoryBound(to: crypto_aead_aes256gcm_state.self), key)
            aesState = state
        }
    }

    deinit {
        sodium_memzero(&key, key.count)
        if let aesState {
            sodium_memzero(aesState, crypto_aead_aes256gcm_statebytes())
            aesState.deallocate()
        }
    }

    /// Records sealed or opened so far in this direction.
    public var records: UInt64 { counter }

    private func nextNonce() -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 12)
        var c = counter.bigEndian
        withUnsafeBytes(of: &c) { raw in for i in 0..<8 { nonce[4 + i] = raw[i] } }
        counter += 1
        return nonce
    }

    /// Encrypts `count` bytes at `plaintext` into `out`, which has room for `count + 16` (ciphertext, then tag).
    public func seal(_ plaintext: UnsafeRawPointer, count: Int, into out: UnsafeMutableRawPointer) {
        let nonce = nextNonce()
        let m = plaintext.assumingMemoryBound(to: UInt8.self)
        let c = out.assumingMemoryBound(to: UInt8.self)
        let mac = c + count
        switch suite {
        case .aes256gcm:
            _ = crypto_aead_aes256gcm_encrypt_detached_afternm(
                c, mac, nil, m, UInt64(count), nil, 0, nil, nonce, aesState!.assumingMemoryBound(to: crypto_aead_aes256gcm_state.self))
        case .chacha20poly1305:
            _ = crypto_aead_chacha20poly1305_ietf_encrypt_detached(c, mac, nil, m, UInt64(count), nil, 0, nil, nonce, key)
        case .none:
            preconditionFailure("no cipher")
        }
    }

    /// Decrypts a record in place: `count` bytes of ciphertext and then its 16-byte tag. False if the record was
    /// altered, reordered or replayed (the tag does not verify under this record's nonce).
    public func open(inPlace record: UnsafeMutableRawPointer, count: Int) -> Bool {
        let nonce = nextNonce()
        let c = record.assumingMemoryBound(to: UInt8.self)
        let mac = UnsafePointer(c + count)
        let status: Int32
        switch suite {
        case .aes256gcm:
            status = crypto_aead_aes256gcm_decrypt_detached_afternm(
                c, nil, c, UInt64(count), mac, nil, 0, nonce, aesState!.assumingMemoryBound(to: crypto_aead_aes256gcm_state.self))
        case .chacha20poly1305:
            status = crypto_aead_chacha20poly1305_ietf_decrypt_detached(c, nil, c, UInt64(count), mac, nil, 0, nonce, key)
        case .none:
            preconditionFailure("no cipher")
        }
        return status == 0
    }
}

extension PublicKey {
    /// Verifies a peer link's handshake signature (`ben/link/v1`).
    public func isValidLinkSignature(_ signature: [UInt8], over transcript: [UInt8]) -> Bool {
        isValidSignature(signature, over: transcript, context: .link)
    }
}

extension BLAKE2b {
    /// BLAKE2b-256 of `bytes`, as raw bytes (handshake transcripts).
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        key(of: bytes).bytes
    }
}
