import BenCore

/// One token of an expression, with the byte offset where it starts.
struct CELToken: Sendable {
    enum Kind: Sendable, Equatable {
        case int(UInt64)  // magnitude; a leading minus is applied by the parser (so that -2^63 parses)
        case uint(UInt64)
        case double(Double)
        case string(String)
        case bytes([UInt8])
        case identifier(String)
        case quotedIdentifier(String)  // `foo.txt`, only valid as a field selector
        case reserved(String)  // words CEL keeps for itself: usable as selectors, not as names
        case punct(String)
        case end
    }

    var kind: Kind
    var offset: Int
    /// Byte length of the token's text in the source, for error spans.
    var length: Int
}

/// Splits an expression into tokens. Errors carry the byte offset of the offending character.
struct CELLexer {
    struct Failure: Error {
        var offset: Int
        var message: String
    }

    static let reservedWords: Set<String> = [
        "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop", "package",
        "namespace", "return", "var", "void", "while",
    ]

    let bytes: [UInt8]
    var index = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    static func tokenize(_ text: String) throws(Failure) -> [CELToken] {
        var lexer = CELLexer(text)
        var tokens: [CELToken] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    func peek(_ ahead: Int = 0) -> UInt8? {
        index + ahead < bytes.count ? bytes[index + ahead] : nil
    }

    mutating func skipTrivia() {
        while let c = peek() {
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C {
                index += 1
            } else if c == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "/") {
                while let d = peek(), d != 0x0A { index += 1 }
            } else {
                return
            }
        }
    }

    mutating func next() throws(Failure) -> CELToken {
        skipTrivia()
        let start = index
        guard let c = peek() else { return CELToken(kind: .end, offset: index, length: 0) }
        func token(_ kind: CELToken.Kind) -> CELToken { CELToken(kind: kind, offset: start, length: index - start) }

        if isDigit(c) || (c == UInt8(ascii: ".") && peek(1).map(isDigit) == true) {
            return token(try number())
        }
        if isIdentifierStart(c) {
            // String prefixes: r, b, rb, br in either case, directly followed by a quote.
            var prefixLength = 0
            var raw = false
            var isBytes = false
            while prefixLength < 2, let p = peek(prefixLength) {
                let lower = p | 0x20
                if lower == UInt8(ascii: "r") && !raw { raw = true } else if lower == UInt8(ascii: "b") && !isBytes { isBytes = true } else { break }
                prefixLength += 1
            }
            if prefixLength > 0, let q = peek(prefixLength), q == UInt8(ascii: "'") || q == UInt8(ascii: "\"") {
                // Only a prefix made of r/b letters; a longer word such as "rb2" is an identifier.
                index += prefixLength
                return token(try stringLiteral(raw: raw, isBytes: isBytes))
            }
            while let d = peek(), isIdentifierStart(d) || isDigit(d) { index += 1 }
            let word = String(decoding: bytes[start..<index], as: UTF8.self)
            switch word {
            case "true", "false", "null", "in": return token(.punct(word))
            default:
                return token(Self.reservedWords.contains(word) ? .reserved(word) : .identifier(word))
            }
        }
        if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
            return token(try stringLiteral(raw: false, isBytes: false))
        }
        if c == UInt8(ascii: "`") {
            index += 1
            let nameStart = index
            while let d = peek(), d != UInt8(ascii: "`") {
                guard isIdentifierStart(d) || isDigit(d) || d == UInt8(ascii: ".") || d == UInt8(ascii: "-")
                    || d == UInt8(ascii: "/") || d == UInt8(ascii: " ")
                else { throw Failure(offset: index, message: "a quoted field name may hold letters, digits, '.', '-', '/' and spaces") }
                index += 1
            }
            guard peek() != nil else { throw Failure(offset: start, message: "unterminated quoted field name") }
            let name = String(decoding: bytes[nameStart..<index], as: UTF8.self)
            index += 1
            return token(.quotedIdentifier(name))
        }
        let two = peek(1).map { String(decoding: [c, $0], as: UTF8.self) } ?? ""
        if ["==", "!=", "<=", ">=", "&&", "||"].contains(two) {
            index += 2
            return token(.punct(two))
        }
        let singles = "+-*/%<>!?:.,()[]{}"
        if singles.utf8.contains(c) {
            index += 1
            return token(.punct(String(decoding: [c], as: UTF8.self)))
        }
        if c == UInt8(ascii: "=") { throw Failure(offset: start, message: "'=' is not an operator; use '==' to compare") }
        if c == UInt8(ascii: "&") { throw Failure(offset: start, message: "'&' is not an operator; use '&&'") }
        if c == UInt8(ascii: "|") { throw Failure(offset: start, message: "'|' is not an operator; use '||'") }
        throw Failure(offset: start, message: "unexpected character \(String(reflecting: String(decoding: [c], as: UTF8.self)))")
    }

    func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    func isHexDigit(_ c: UInt8) -> Bool { isDigit(c) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x66) }
    func isIdentifierStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt8(ascii: "_")
    }

    mutating func number() throws(Failure) -> CELToken.Kind {
        let start = index
        if peek() == UInt8(ascii: "0"), let x = peek(1), x | 0x20 == UInt8(ascii: "x") {
            index += 2
            let digitsStart = index
            while let d = peek(), isHexDigit(d) { index += 1 }
            guard index > digitsStart else { throw Failure(offset: start, message: "hexadecimal literal has no digits") }
            let text = String(decoding: bytes[digitsStart..<index], as: UTF8.self)
            guard let value = UInt64(text, radix: 16) else { throw Failure(offset: start, message: "integer literal out of range") }
            if let u = peek(), u | 0x20 == UInt8(ascii: "u") {
                index += 1
                return .uint(value)
            }
            return .int(value)
        }
        while let d = peek(), isDigit(d) { index += 1 }
        var isDouble = false
        if peek() == UInt8(ascii: "."), let d = peek(1), isDigit(d) {
            isDouble = true
            index += 1
            while let d = peek(), isDigit(d) { index += 1 }
        }
        if let e = peek(), e | 0x20 == UInt8(ascii: "e") {
            var look = 1
            if let s = peek(1), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { look = 2 }
            if let d = peek(look), isDigit(d) {
                isDouble = true
                index += look
                while let d = peek(), isDigit(d) { index += 1 }
            }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isDouble {
            guard let value = Double(text) else { throw Failure(offset: start, message: "malformed number") }
            return .double(value)
        }
        guard let value = UInt64(text) else { throw Failure(offset: start, message: "integer literal out of range") }
        if let u = peek(), u | 0x20 == UInt8(ascii: "u") {
            index += 1
            return .uint(value)
        }
        return .int(value)
    }

    /// Reads a quoted literal starting at the opening quote. Strings decode escapes into Unicode scalars; bytes
    /// into raw bytes (a `\xff` in bytes is the byte 0xff, in a string the character U+00FF).
    mutating func stringLiteral(raw: Bool, isBytes: Bool) throws(Failure) -> CELToken.Kind {
        let start = index
        let quote = bytes[index]
        let triple = peek(1) == quote && peek(2) == quote
        index += triple ? 3 : 1
        var out: [UInt8] = []
        func appendScalar(_ value: UInt32, at offset: Int) throws(Failure) {
            if isBytes && value <= 0xFF && value >= 0x80 {
                out.append(UInt8(value))
                return
            }
            guard let scalar = Unicode.Scalar(value) else {
                throw Failure(offset: offset, message: "escape names no Unicode character (a surrogate or beyond U+10FFFF)")
            }
            StringEscape.appendUTF8(scalar, to: &out)
        }
        while true {
            guard let c = peek() else { throw Failure(offset: start, message: "unterminated string literal") }
            if c == quote {
                if !triple {
                    index += 1
                    break
                }
                if peek(1) == quote && peek(2) == quote {
                    index += 3
                    break
                }
            }
            if !triple && (c == 0x0A || c == 0x0D) {
                throw Failure(offset: index, message: "a line break inside a quoted string; use \\n or a triple-quoted string")
            }
            if c != UInt8(ascii: "\\") || raw {
                out.append(c)
                index += 1
                continue
            }
            let escapeStart = index
            index += 1
            guard let e = peek() else { throw Failure(offset: start, message: "unterminated string literal") }
            index += 1
            switch e {
            case UInt8(ascii: "x"), UInt8(ascii: "X"):
                let value = try hexDigits(2, escapeStart: escapeStart)
                if isBytes { out.append(UInt8(value)) } else { try appendScalar(value, at: escapeStart) }
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                guard !isBytes else { throw Failure(offset: escapeStart, message: "\\u escapes are not allowed in bytes literals") }
                let value = try hexDigits(e == UInt8(ascii: "u") ? 4 : 8, escapeStart: escapeStart)
                try appendScalar(value, at: escapeStart)
            case UInt8(ascii: "0")...UInt8(ascii: "3"):
                let (rest, count) = StringEscape.digits(bytes, at: &index, radix: 8, upTo: 2)
                guard count == 2 else {
                    throw Failure(offset: escapeStart, message: "an octal escape needs three digits (\\000 to \\377)")
                }
                let value = UInt32(e - 0x30) * 64 + rest
                if isBytes { out.append(UInt8(value)) } else { try appendScalar(value, at: escapeStart) }
            default:
                guard let decoded = StringEscape.simple(e, .c(backquote: true)) else {
                    throw Failure(offset: escapeStart, message: "unknown escape sequence \\\(String(decoding: [e], as: UTF8.self))")
                }
                out.append(decoded)
            }
        }
        if isBytes { return .bytes(out) }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw Failure(offset: start, message: "string literal is not valid UTF-8")
        }
        return .string(text)
    }

    mutating func hexDigits(_ count: Int, escapeStart: Int) throws(Failure) -> UInt32 {
        let (value, read) = StringEscape.digits(bytes, at: &index, radix: 16, upTo: count)
        guard read == count else { throw Failure(offset: escapeStart, message: "escape needs \(count) hexadecimal digits") }
        return value
    }
}
