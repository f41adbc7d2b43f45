/// NATS nkeys: Ed25519 keys in NATS's own encoding, for the NATS authorization Ben ships (`benctl nats config`).
///
/// A public nkey is base32 (RFC 4648, no padding) of a prefix byte naming the kind of identity, the 32-byte public
/// key and a CRC-16 (XMODEM, little-endian) of those 33 bytes: 56 characters starting with the kind's letter (`U`
/// for a user). A seed is the same over two prefix bytes (`S` for seed, then the kind) and the 32-byte Ed25519
/// seed: 58 characters starting `SU`. nats-server's configuration names users by their public nkey; the client
/// proves it holds the seed by signing the server's nonce.
public enum NKey {
    /// The kind of identity a key is: its letter leads the encoded key.
    public enum Kind: UInt8, Sendable {
        /// `U`: a user, as every Ben process is.
        case user = 160  // 20 << 3
        /// `A`: an account.
        case account = 0
        /// `O`: an operator (NATS's, not Ben's).
        case `operator` = 112  // 14 << 3
    }

    static let seedPrefix: UInt8 = 144  // 18 << 3: 'S'

    /// The public nkey of `key`.
    public static func publicKey(_ key: PublicKey, kind: Kind = .user) -> String {
        encode([kind.rawValue] + key.bytes)
    }

    /// The encoded seed of `key`. Secret: it is the key.
    public static func seed(_ key: SigningKey, kind: Kind = .user) -> String {
        encode([seedPrefix | (kind.rawValue >> 5), (kind.rawValue & 31) << 3] + key.seed)
    }

    /// The key an encoded seed holds, and its kind; nil if `text` is not a valid seed (alphabet, length, checksum).
    public static func signingKey(seed text: String) -> (SigningKey, Kind)? {
        guard let raw = decode(text), raw.count == 34, raw[0] & 0xF8 == seedPrefix,
            let kind = Kind(rawValue: ((raw[0] & 7) << 5) | (raw[1] >> 3)), let key = SigningKey(seed: Array(raw[2...]))
        else { return nil }
        return (key, kind)
    }

    /// The Ed25519 key a public nkey names, and its kind; nil if `text` is not a valid public nkey.
    public static func publicKey(_ text: String) -> (PublicKey, Kind)? {
        guard let raw = decode(text), raw.count == 33, let kind = Kind(rawValue: raw[0]), let key = PublicKey(bytes: Array(raw[1...]))
        else { return nil }
        return (key, kind)
    }

    // MARK: Encoding

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// base32(`payload` + CRC-16 of it, little-endian).
    static func encode(_ payload: [UInt8]) -> String {
        let crc = crc16(payload)
        let bytes = payload + [UInt8(crc & 0xFF), UInt8(crc >> 8)]
        var out: [UInt8] = []
        var buffer = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The payload of an encoded key, its checksum checked; nil otherwise.
    static func decode(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var buffer = 0
        var bits = 0
        for character in text.utf8 {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            buffer = ((buffer << 5) | value) & 0xFFFF
            bits += 5
            if bits >= 8 {
                bytes.append(UInt8((buffer >> (bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        guard bytes.count > 2 else { return nil }
        let payload = Array(bytes.dropLast(2))
        let crc = UInt16(bytes[bytes.count - 2]) | UInt16(bytes[bytes.count - 1]) << 8
        return crc16(payload) == crc ? payload : nil
    }

    /// CRC-16/XMODEM (polynomial 0x1021, initial 0), as nkeys uses.
    static func crc16(_ bytes: [UInt8]) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }
}
