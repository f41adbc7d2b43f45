import BenCore

/// A reader for protobuf's text format, enough for cel-spec's simple-test files: nested messages with `{}` or
/// `<>`, scalar fields (strings with C escapes, adjacent strings joined, numbers, enum names), lists in `[]`,
/// extension and Any names in `[...]`, and `#` comments.
///
/// It keeps the tree generic (field names and raw scalars); `ConformanceFile` gives it meaning.
struct TextProtoMessage: Sendable {
    var fields: [(name: String, value: TextProtoValue)] = []

    func values(_ name: String) -> [TextProtoValue] { fields.filter { $0.name == name }.map(\.value) }
    func first(_ name: String) -> TextProtoValue? { fields.first { $0.name == name }?.value }
    func message(_ name: String) -> TextProtoMessage? { first(name)?.message }
    func messages(_ name: String) -> [TextProtoMessage] { values(name).compactMap(\.message) }
    func string(_ name: String) -> String? { first(name)?.text }
    func bool(_ name: String) -> Bool { first(name)?.word == "true" }
    func has(_ name: String) -> Bool { fields.contains { $0.name == name } }
}

enum TextProtoValue: Sendable {
    /// A quoted string's bytes, after escapes.
    case bytes([UInt8])
    /// A number or an enum/identifier, as written.
    case word(String)
    case message(TextProtoMessage)

    var message: TextProtoMessage? {
        if case .message(let m) = self { return m }
        return nil
    }

    var text: String? {
        if case .bytes(let b) = self { return String(decoding: b, as: UTF8.self) }
        return nil
    }

    var word: String? {
        if case .word(let w) = self { return w }
        return nil
    }
}

struct TextProtoError: Error, CustomStringConvertible {
    var line: Int
    var column: Int
    var message: String
    var description: String { "line \(line), column \(column): \(message)" }
}

struct TextProtoParser {
    let b: [UInt8]
    var i = 0

    init(_ text: String) { b = Array(text.utf8) }

    static func parse(_ text: String) throws(TextProtoError) -> TextProtoMessage {
        var parser = TextProtoParser(text)
        let message = try parser.parseFields(until: nil)
        return message
    }

    func error(_ message: String) -> TextProtoError {
        var line = 1
        var column = 1
        for k in 0..<min(i, b.count) {
            if b[k] == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return TextProtoError(line: line, column: column, message: message)
    }

    mutating func skipTrivia() {
        while i < b.count {
            switch b[i] {
            case 0x20, 0x09, 0x0A, 0x0D, 0x0C, 0x0B: i += 1
            case UInt8(ascii: "#"):
                while i < b.count && b[i] != 0x0A { i += 1 }
            default: return
            }
        }
    }

    func isNameByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) || c == UInt8(ascii: "_")
    }

    mutating func parseFields(until closing: UInt8?) throws(TextProtoError) -> TextProtoMessage {
        var message = TextProtoMessage()
        while true {
            skipTrivia()
            guard i < b.count else {
                if closing != nil { throw error("missing '\(Character(Unicode.Scalar(closing!)))'") }
                return message
            }
            if let closing, b[i] == closing {
                i += 1
                return message
            }
            let name = try parseFieldName()
            skipTrivia()
            var sawColon = false
            if i < b.count && b[i] == UInt8(ascii: ":") {
                sawColon = true
                i += 1
                skipTrivia()
            }
            guard i < b.count else { throw error("field \(name) has no value") }
            if b[i] == UInt8(ascii: "[") && sawColon {
                i += 1
                while true {
                    skipTrivia()
                    if i < b.count && b[i] == UInt8(ascii: "]") {
                        i += 1
                        break
                    }
                    message.fields.append((name, try parseValue(name)))
                    skipTrivia()
                    if i < b.count && b[i] == UInt8(ascii: ",") { i += 1 }
                }
            } else {
                if !sawColon && b[i] != UInt8(ascii: "{") && b[i] != UInt8(ascii: "<") {
                    throw error("expected ':' after field \(name)")
                }
                message.fields.append((name, try parseValue(name)))
            }
            skipTrivia()
            if i < b.count && (b[i] == UInt8(ascii: ",") || b[i] == UInt8(ascii: ";")) { i += 1 }
        }
    }

    mutating func parseFieldName() throws(TextProtoError) -> String {
        if b[i] == UInt8(ascii: "[") {
            let start = i
            while i < b.count && b[i] != UInt8(ascii: "]") { i += 1 }
            guard i < b.count else { throw error("unterminated extension name") }
            i += 1
            return String(decoding: b[start..<i], as: UTF8.self)
        }
        let start = i
        while i < b.count && isNameByte(b[i]) { i += 1 }
        guard i > start else { throw error("expected a field name, found '\(Character(Unicode.Scalar(b[i])))'") }
        return String(decoding: b[start..<i], as: UTF8.self)
    }

    mutating func parseValue(_ name: String) throws(TextProtoError) -> TextProtoValue {
        let c = b[i]
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "<") {
            i += 1
            return .message(try parseFields(until: c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: ">")))
        }
        if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
            var bytes: [UInt8] = []
            // Adjacent string literals are one value.
            while i < b.count && (b[i] == UInt8(ascii: "\"") || b[i] == UInt8(ascii: "'")) {
                bytes += try parseString()
                skipTrivia()
            }
            return .bytes(bytes)
        }
        let start = i
        if c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
            i += 1
            skipTrivia()
        }
        let wordStart = i
        while i < b.count && (isNameByte(b[i]) || b[i] == UInt8(ascii: ".") || ((b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+")) && i > wordStart && b[i - 1] | 0x20 == UInt8(ascii: "e"))) {
            i += 1
        }
        guard i > wordStart else { throw error("field \(name) has no value") }
        let sign = b[start] == UInt8(ascii: "-") ? "-" : ""
        return .word(sign + String(decoding: b[wordStart..<i], as: UTF8.self))
    }

    mutating func parseString() throws(TextProtoError) -> [UInt8] {
        let quote = b[i]
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < b.count, b[i] != 0x0A else { throw error("unterminated string") }
            let c = b[i]
            i += 1
            if c == quote { return out }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                continue
            }
            guard i < b.count else { throw error("unterminated escape") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "x"), UInt8(ascii: "X"):
                let (value, count) = StringEscape.digits(b, at: &i, radix: 16, upTo: 2)
                guard count > 0 else { throw error("\\x needs a hexadecimal digit") }
                out.append(UInt8(value))
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                let (rest, count) = StringEscape.digits(b, at: &i, radix: 8, upTo: 2)
                let value = UInt32(e - 0x30) << (3 * count) + rest
                out.append(UInt8(truncatingIfNeeded: value))
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let n = e == UInt8(ascii: "u") ? 4 : 8
                let (value, count) = StringEscape.digits(b, at: &i, radix: 16, upTo: n)
                guard count == n else { throw error("\\u needs \(n) hexadecimal digits") }
                guard let scalar = Unicode.Scalar(value) else { throw error("\\u names no character") }
                StringEscape.appendUTF8(scalar, to: &out)
            default:
                guard let decoded = StringEscape.simple(e, .c(backquote: false)) else {
                    throw error("unknown escape \\\(Character(Unicode.Scalar(e)))")
                }
                out.append(decoded)
            }
        }
    }
}
