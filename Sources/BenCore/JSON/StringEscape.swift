/// The backslash escapes of quoted strings, decoded one way for every reader that has them: JSON (RFC 8259), CEL
/// string and bytes literals, and the text format of protocol buffers (cel-spec's test files); and written one
/// way for every writer (`quoted(_:escaping:)`).
///
/// The three agree on what each escape means and differ only in which they allow and how many digits a numeric
/// escape takes, so each reader keeps its own rules and error messages and asks here what an escape stands for.
public enum StringEscape {
    /// Which one-letter escapes a reader allows.
    public enum Dialect: Sendable {
        /// `\" \\ \/ \b \f \n \r \t`.
        case json
        /// C's: `\a \b \f \n \r \t \v`, and `\\ \' \" \?`; with `backquote`, also an escaped backquote (CEL's).
        case c(backquote: Bool)
    }

    /// The byte a one-letter escape stands for (`n` → 0x0A, `"` → `"`), or nil when `dialect` has no such escape.
    @inlinable
    public static func simple(_ letter: UInt8, _ dialect: Dialect) -> UInt8? {
        switch letter {
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "f"): return 0x0C
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "t"): return 0x09
        case UInt8(ascii: "\\"), UInt8(ascii: "\""): return letter
        default: break
        }
        switch (dialect, letter) {
        case (.json, UInt8(ascii: "/")): return letter
        case (.c, UInt8(ascii: "a")): return 0x07
        case (.c, UInt8(ascii: "v")): return 0x0B
        case (.c, UInt8(ascii: "'")), (.c, UInt8(ascii: "?")): return letter
        case (.c(backquote: true), UInt8(ascii: "`")): return letter
        default: return nil
        }
    }

    /// The value of a hexadecimal digit of either case.
    @inlinable
    public static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Reads at most `count` digits of `radix` (8 or 16) from `bytes` at `index`, moving `index` past them; stops at
    /// the first byte that is not one. Returns the value and how many digits were read, so that a reader that needs
    /// exactly `count` can refuse fewer (its `index` is then at the byte that is not a digit).
    @inlinable
    public static func digits(
        _ bytes: some RandomAccessCollection<UInt8>, at index: inout Int, radix: UInt32, upTo count: Int
    ) -> (value: UInt32, count: Int) {
        var value: UInt32 = 0
        var read = 0
        while read < count, index < bytes.count {
            let byte = bytes[bytes.index(bytes.startIndex, offsetBy: index)]
            guard let digit = hexValue(byte), digit < radix else { break }
            value = value * radix + digit
            index += 1
            read += 1
        }
        return (value, read)
    }

    /// Appends the UTF-8 bytes of `scalar`.
    public static func appendUTF8(_ scalar: Unicode.Scalar, to out: inout [UInt8]) {
        out.append(contentsOf: String(Character(scalar)).utf8)
    }

    /// `s` in double quotes, the other way: `"`, `\`, newline, carriage return and tab become `\"`, `\\`, `\n`, `\r`
    /// and `\t`, as every dialect writes them; any other scalar for which `escape` gives text (a control character
    /// as `\u0001` in JSON, `\x01` in CEL) becomes that text; the rest stand as they are.
    public static func quoted(_ s: String, escaping escape: (Unicode.Scalar) -> String?) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if let escaped = escape(scalar) { out += escaped } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
