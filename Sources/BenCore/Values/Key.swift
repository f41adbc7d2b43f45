/// A key: the BLAKE2b-256 digest of the bytes it names (DESIGN §1), written as 64 lowercase hex digits.
///
/// A key never changes meaning, so two equal keys always name the same bytes. It is stored as four words so
/// that sets of chunk keys hash and compare without touching strings.
public struct Key: Sendable, Hashable, Comparable {
    /// The digest as four big-endian words, first to last (see `Words256`).
    public let w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    /// The digest's 32 bytes, big-endian within each word so that hex text and byte order agree.
    public init(digest bytes: some Collection<UInt8>) {
        precondition(bytes.count == 32, "a key is exactly 32 bytes")
        (w0, w1, w2, w3) = Words256.pack(bytes)
    }

    /// Parses 64 lowercase hex digits; anything else (upper case, wrong length, other characters) is nil, so
    /// that one key has exactly one spelling.
    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in 0..<32 {
            guard let hi = Hex.nibble(lowercase: utf8[2 * i]), let lo = Hex.nibble(lowercase: utf8[2 * i + 1]) else {
                return nil
            }
            bytes[i] = hi << 4 | lo
        }
        self.init(digest: bytes)
    }

    /// The 32 bytes of the digest.
    public var bytes: [UInt8] { Words256.unpack(w0, w1, w2, w3) }

    /// The 64 lowercase hex digits: the one spelling `init?(hex:)` reads back.
    public var hex: String { Hex.encode(bytes) }

    /// The first 16 hex digits, for logs and tables where the whole key would be noise.
    public var short: String { String(hex.prefix(16)) }

    /// Orders as the hex text does, so sorted key lists are the same everywhere.
    public static func < (a: Key, b: Key) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }
}

extension Key: CustomStringConvertible {
    /// The hex text (`hex`).
    public var description: String { hex }
}

/// 32 bytes as four big-endian 64-bit words: how a key, or any other 32-byte value such as a node's public key,
/// is stored so that it hashes and compares without touching strings or arrays. The first byte is the top byte
/// of the first word, so word order, byte order and hex order agree.
public enum Words256 {
    /// The four words of exactly 32 bytes (the caller checks the count).
    public static func pack(_ bytes: some Collection<UInt8>) -> (UInt64, UInt64, UInt64, UInt64) {
        var words = [UInt64](repeating: 0, count: 4)
        for (i, byte) in bytes.enumerated() {
            words[i / 8] = words[i / 8] << 8 | UInt64(byte)
        }
        return (words[0], words[1], words[2], words[3])
    }

    /// The 32 bytes that `pack` made these words from.
    public static func unpack(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in [w0, w1, w2, w3] {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return out
    }
}

/// Lowercase hexadecimal, the spelling of keys, key ids and public keys.
public enum Hex {
    /// Two lowercase hex digits per byte, in order.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes lowercase or uppercase hex; nil on odd length or a non-hex character.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func nibble(lowercase c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nibble(lowercase: c)
        }
    }
}
