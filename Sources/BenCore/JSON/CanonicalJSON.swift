/// RFC 8785 (JSON Canonicalization Scheme) serialisation.
///
/// Every signed or hashed document in Ben is these bytes (DESIGN §5), so any independent JCS implementation
/// produces the same bytes from the same value:
/// - no whitespace;
/// - object members sorted by the UTF-16 code units of their names;
/// - strings escaped as ECMAScript's `JSON.stringify` does (only `"`, `\` and control characters);
/// - numbers formatted as ECMAScript's `Number.prototype.toString`.
public enum CanonicalJSON {
    /// The canonical bytes of `value`.
    /// - Throws: `CanonicalJSONError` for values JSON cannot carry (NaN, infinities, integers beyond ±2^53).
    public static func encode(_ value: JSONValue) throws(CanonicalJSONError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        try write(value, into: &out)
        return out
    }

    /// The canonical text of `value`, for logs, tests and docs.
    public static func string(_ value: JSONValue) throws(CanonicalJSONError) -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }

    static func write(_ value: JSONValue, into out: inout [UInt8]) throws(CanonicalJSONError) {
        switch value {
        case .null:
            out.append(contentsOf: "null".utf8)
        case .bool(let b):
            out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i):
            guard i.magnitude <= UInt64(JSONValue.maxSafeInteger) else { throw .unsafeInteger(i) }
            out.append(contentsOf: String(i).utf8)
        case .double(let d):
            out.append(contentsOf: try formatNumber(d).utf8)
        case .string(let s):
            writeString(s, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                try write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let names = members.keys.sorted(by: utf16Precedes)
            for (i, name) in names.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(name, into: &out)
                out.append(UInt8(ascii: ":"))
                try write(members[name]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// JCS orders member names by their UTF-16 code units, not by Unicode scalars or UTF-8 bytes; the two
    /// differ for characters outside the Basic Multilingual Plane against those in U+E000–U+FFFF.
    public static func utf16Precedes(_ a: String, _ b: String) -> Bool {
        a.utf16.lexicographicallyPrecedes(b.utf16)
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), 0x30, 0x30])
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// ECMAScript `Number.prototype.toString(10)` for a finite double (ECMA-262 §6.1.6.1.20).
    ///
    /// Swift's `description` already yields the shortest digit string that round-trips, which is what
    /// ECMAScript requires; this only re-lays those digits out by ECMAScript's rules.
    public static func formatNumber(_ value: Double) throws(CanonicalJSONError) -> String {
        guard value.isFinite else { throw .nonFiniteNumber }
        if value == 0 { return "0" }
        let negative = value < 0
        let (digits, n) = shortestDigits(value.magnitude)
        let k = digits.count
        var result = negative ? "-" : ""
        if k <= n && n <= 21 {
            result += digits + String(repeating: "0", count: n - k)
        } else if 0 < n && n <= 21 {
            let split = digits.index(digits.startIndex, offsetBy: n)
            result += digits[..<split] + "." + digits[split...]
        } else if -6 < n && n <= 0 {
            result += "0." + String(repeating: "0", count: -n) + digits
        } else {
            let exponent = n - 1
            let sign = exponent < 0 ? "-" : "+"
            let first = digits.prefix(1)
            let rest = digits.dropFirst()
            result += first + (rest.isEmpty ? "" : "." + rest) + "e" + sign + String(exponent.magnitude)
        }
        return result
    }

    /// Splits a positive finite double into its shortest round-trip decimal digits `s` (no leading or
    /// trailing zeros) and the exponent `n` such that the value is `0.s × 10^n`.
    static func shortestDigits(_ value: Double) -> (digits: String, n: Int) {
        // Swift prints forms such as "123.45", "1e-07", "1.7976931348623157e+308" or "5e-324".
        let text = value.description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...])!
        }
        var integerPart = mantissa
        var fractionPart: Substring = ""
        if let dot = mantissa.firstIndex(of: ".") {
            integerPart = mantissa[..<dot]
            fractionPart = mantissa[mantissa.index(after: dot)...]
        }
        var digits = String(integerPart) + fractionPart
        var n = integerPart.count + exponent
        while digits.first == "0" {
            digits.removeFirst()
            n -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        return (digits, n)
    }
}

/// A value that JSON cannot carry canonically.
public enum CanonicalJSONError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A NaN or an infinity.
    case nonFiniteNumber
    /// An integer beyond ±2^53 (`JSONValue.maxSafeInteger`).
    case unsafeInteger(Int64)

    /// The reason and what to send instead, in one line.
    public var description: String {
        switch self {
        case .nonFiniteNumber:
            "NaN and infinities have no JSON form; use null or a string"
        case .unsafeInteger(let i):
            "integer \(i) is beyond ±2^53 and would not survive other JSON implementations; send it as a string"
        }
    }
}
