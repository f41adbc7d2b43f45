/// A strict RFC 8259 / I-JSON parser into `JSONValue`.
///
/// Ben parses documents that arrive from the network, so the parser refuses rather than guesses: input over
/// the byte limit is refused before a single byte is read, nesting is bounded, duplicate member names and
/// unpaired surrogates are errors, and every error carries the line and column.
public struct JSONParser {
    /// How much input a parse accepts; each document type sets its own byte limit.
    public struct Limits: Sendable, Hashable {
        /// Input longer than this is refused before parsing.
        public var maxBytes: Int
        /// Arrays and objects nested deeper than this are refused.
        public var maxDepth: Int

        /// Limits of `maxBytes` bytes and `maxDepth` levels (1 MiB and 64 unless given).
        public init(maxBytes: Int = 1 << 20, maxDepth: Int = 64) {
            self.maxBytes = maxBytes
            self.maxDepth = maxDepth
        }
    }

    /// Parses the UTF-8 of `text`, exactly as `parse(_:limits:)` parses bytes.
    public static func parse(_ text: String, limits: Limits = Limits()) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8), limits: limits)
    }

    /// Parses one JSON value that fills `bytes` (whitespace around it allowed). Integers without fraction or
    /// exponent within ±2^53 become `.int`, every other number `.double`; an object with a repeated member name,
    /// invalid UTF-8, an unpaired surrogate or anything after the value is refused.
    ///
    /// - Throws: `JSONParseError` with the line and column of the first problem (`.tooLarge` before reading
    /// anything).
    public static func parse(_ bytes: some Collection<UInt8>, limits: Limits = Limits()) throws(JSONParseError)
        -> JSONValue
    {
        guard bytes.count <= limits.maxBytes else {
            throw JSONParseError(
                line: 0, column: 0, problem: .tooLarge(size: bytes.count, limit: limits.maxBytes))
        }
        let array = Array(bytes)
        do {
            return try array.withUnsafeBufferPointer { buffer in
                var parser = Scanner(bytes: buffer, maxDepth: limits.maxDepth)
                parser.skipWhitespace()
                let value = try parser.parseValue(depth: 0)
                parser.skipWhitespace()
                guard parser.index == buffer.count else { throw parser.error(.trailingCharacters) }
                return value
            }
        } catch let error as JSONParseError {
            throw error
        } catch {
            preconditionFailure("the scanner throws only JSONParseError")
        }
    }
}

/// Why a JSON text was refused, and where.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong; `description` words each for people.
    public enum Problem: Sendable, Hashable {
        /// The input is `size` bytes, over `limit`; nothing was read.
        case tooLarge(size: Int, limit: Int)
        /// Arrays and objects nest deeper than `limit`.
        case tooDeep(limit: Int)
        /// The input ends inside a value.
        case unexpectedEnd
        /// A character that cannot stand here (U+FFFD stands for any non-ASCII byte).
        case unexpectedCharacter(Character)
        /// Something other than whitespace follows the value.
        case trailingCharacters
        /// An object has this member name twice.
        case duplicateName(String)
        /// A malformed number, or one beyond a double's range.
        case invalidNumber
        /// A malformed backslash escape in a string.
        case invalidEscape
        /// Invalid UTF-8 or an unpaired surrogate in a string.
        case invalidUnicode
        /// A raw control character inside a string.
        case controlCharacterInString
    }

    /// 1-based line and column of the offending byte; 0 when the whole input was refused.
    public var line: Int
    /// 1-based, counted in characters (UTF-8 sequences), not bytes; 0 with `line`.
    public var column: Int
    /// What was wrong there.
    public var problem: Problem

    /// One line: `line L, column C: problem` (no place for `.tooLarge`).
    public var description: String {
        let place = line > 0 ? "line \(line), column \(column): " : ""
        switch problem {
        case .tooLarge(let size, let limit):
            return "document is \(size) bytes, over the \(limit)-byte limit; it was refused unread"
        case .tooDeep(let limit):
            return place + "nesting deeper than \(limit) levels"
        case .unexpectedEnd:
            return place + "the document ends early; it was truncated or a bracket is missing"
        case .unexpectedCharacter(let c):
            return place + "unexpected character \(String(reflecting: String(c)))"
        case .trailingCharacters:
            return place + "characters after the end of the document"
        case .duplicateName(let name):
            return place + "member \"\(name)\" appears twice in one object"
        case .invalidNumber:
            return place + "malformed number"
        case .invalidEscape:
            return place + "malformed escape sequence in a string"
        case .invalidUnicode:
            return place + "invalid UTF-8 or an unpaired surrogate in a string"
        case .controlCharacterInString:
            return place + "a raw control character in a string; escape it"
        }
    }
}

private struct Scanner {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var index = 0

    func error(_ problem: JSONParseError.Problem, at position: Int? = nil) -> JSONParseError {
        let end = min(position ?? index, bytes.count)
        var line = 1
        var column = 1
        for i in 0..<end {
            if bytes[i] == 0x0A {
                line += 1
                column = 1
            } else if bytes[i] & 0xC0 != 0x80 {
                column += 1
            }
        }
        return JSONParseError(line: line, column: column, problem: problem)
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    func unexpected() -> JSONParseError {
        guard index < bytes.count else { return error(.unexpectedEnd) }
        let byte = bytes[index]
        return error(.unexpectedCharacter(byte < 0x80 ? Character(Unicode.Scalar(byte)) : "\u{FFFD}"))
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw error(.unexpectedEnd) }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw unexpected()
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        let start = literal.utf8Start
        for i in 0..<count {
            guard index < bytes.count else { throw error(.unexpectedEnd) }
            guard bytes[index] == start[i] else { throw unexpected() }
            index += 1
        }
    }

    /// Reads an object's or array's members: the opening bracket is at `index`; `member` reads each one (from
    /// its first byte), and commas separate them up to the `close` bracket, which is consumed.
    mutating func parseMembers(
        depth: Int, close: UInt8, _ member: (inout Scanner) throws(JSONParseError) -> Void
    ) throws(JSONParseError) {
        guard depth <= maxDepth else { throw error(.tooDeep(limit: maxDepth)) }
        index += 1
        skipWhitespace()
        if index < bytes.count && bytes[index] == close {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try member(&self)
            skipWhitespace()
            guard index < bytes.count else { throw error(.unexpectedEnd) }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case close:
                index += 1
                return
            default: throw unexpected()
            }
        }
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        var members: [String: JSONValue] = [:]
        try parseMembers(depth: depth, close: UInt8(ascii: "}")) { s throws(JSONParseError) in
            guard s.index < s.bytes.count else { throw s.error(.unexpectedEnd) }
            guard s.bytes[s.index] == UInt8(ascii: "\"") else { throw s.unexpected() }
            let nameStart = s.index
            let name = try s.parseString()
            s.skipWhitespace()
            guard s.index < s.bytes.count else { throw s.error(.unexpectedEnd) }
            guard s.bytes[s.index] == UInt8(ascii: ":") else { throw s.unexpected() }
            s.index += 1
            s.skipWhitespace()
            let value = try s.parseValue(depth: depth)
            guard members.updateValue(value, forKey: name) == nil else {
                throw s.error(.duplicateName(name), at: nameStart)
            }
        }
        return .object(members)
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        var elements: [JSONValue] = []
        try parseMembers(depth: depth, close: UInt8(ascii: "]")) { s throws(JSONParseError) in
            elements.append(try s.parseValue(depth: depth))
        }
        return .array(elements)
    }

    mutating func parseString() throws(JSONParseError) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes, plain bytes up to the closing quote.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                guard let text = String(validating: slice, as: UTF8.self) else {
                    throw error(.invalidUnicode, at: start)
                }
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error(.controlCharacterInString) }
            index += 1
        }
        guard index < bytes.count else { throw error(.unexpectedEnd) }
        // Slow path: the string has escapes.
        var scalars = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: scalars, as: UTF8.self) else {
                    throw error(.invalidUnicode, at: start)
                }
                index += 1
                return text
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw error(.unexpectedEnd) }
                let escape = bytes[index]
                index += 1
                if escape == UInt8(ascii: "u") {
                    StringEscape.appendUTF8(try parseUnicodeEscape(), to: &scalars)
                } else if let decoded = StringEscape.simple(escape, .json) {
                    scalars.append(decoded)
                } else {
                    throw error(.invalidEscape, at: index - 2)
                }
            default:
                if byte < 0x20 { throw error(.controlCharacterInString) }
                scalars.append(byte)
                index += 1
            }
        }
        throw error(.unexpectedEnd)
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error(.unexpectedEnd) }
        let (value, count) = StringEscape.digits(bytes, at: &index, radix: 16, upTo: 4)
        guard count == 4 else { throw error(.invalidEscape) }
        return value
    }

    mutating func parseUnicodeEscape() throws(JSONParseError) -> Unicode.Scalar {
        let high = try parseHex4()
        if (0xD800...0xDBFF).contains(high) {
            guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
            else { throw error(.invalidUnicode) }
            index += 2
            let low = try parseHex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw error(.invalidUnicode) }
            let combined = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            return Unicode.Scalar(combined)!
        }
        guard let scalar = Unicode.Scalar(high) else { throw error(.invalidUnicode) }
        return scalar
    }

    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        var isInteger = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw error(.unexpectedEnd) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[index]) {
            while index < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        } else {
            throw error(.invalidNumber, at: start)
        }
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            let digitsStart = index
            while index < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > digitsStart else { throw error(.invalidNumber, at: start) }
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            isInteger = false
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
                index += 1
            }
            let digitsStart = index
            while index < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > digitsStart else { throw error(.invalidNumber, at: start) }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isInteger, let integer = Int64(text), integer.magnitude <= UInt64(JSONValue.maxSafeInteger) {
            return .int(integer)
        }
        guard let double = Double(text), double.isFinite else { throw error(.invalidNumber, at: start) }
        return .double(double)
    }
}
