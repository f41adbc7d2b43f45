import BenCore

/// Prints an expression in Ben's normal form: one space around binary operators, none inside brackets,
/// double-quoted strings, parentheses only where precedence needs them.
///
/// Compiled artifacts carry this form, not the user's text, so reformatting a rule or adding a comment changes
/// no artifact key, and an expression parses back to the same tree.
public enum CELPrinter {
    public static func print(_ expression: CELExpression) -> String {
        var out = ""
        write(expression, into: &out)
        return out
    }

    /// Precedence of a node as an operand: literals, calls and selections bind tightest.
    static func precedence(_ node: CELNode) -> Int {
        switch node {
        case .conditional: 0
        case .binary(let op, _, _): op.precedence
        case .unary: 6
        case .literal(.int(let i)) where i < 0: 6
        case .literal(.double(let d)) where d.sign == .minus: 6
        default: 7
        }
    }

    static func write(_ e: CELExpression, into out: inout String, atLeast minimum: Int = 0) {
        let needsParens = precedence(e.node) < minimum
        if needsParens { out += "(" }
        switch e.node {
        case .literal(let value): writeLiteral(value, into: &out)
        case .identifier(let name): out += name
        case .select(let operand, let field):
            write(operand, into: &out, atLeast: 7)
            out += "." + selector(field)
        case .presence(let operand, let field):
            out += "has("
            write(operand, into: &out, atLeast: 7)
            out += "." + selector(field) + ")"
        case .index(let operand, let index):
            write(operand, into: &out, atLeast: 7)
            out += "["
            write(index, into: &out)
            out += "]"
        case .unary(let op, let operand):
            out += op.rawValue
            write(operand, into: &out, atLeast: 6)
        case .binary(let op, let left, let right):
            write(left, into: &out, atLeast: op.precedence)
            out += " \(op.rawValue) "
            write(right, into: &out, atLeast: op.precedence + 1)
        case .conditional(let condition, let whenTrue, let whenFalse):
            write(condition, into: &out, atLeast: 1)
            out += " ? "
            write(whenTrue, into: &out, atLeast: 1)
            out += " : "
            write(whenFalse, into: &out)
        case .call(let name, let receiver, let arguments):
            if let receiver {
                write(receiver, into: &out, atLeast: 7)
                out += "."
            }
            out += name + "("
            writeList(arguments, into: &out)
            out += ")"
        case .list(let elements):
            out += "["
            writeList(elements, into: &out)
            out += "]"
        case .map(let entries):
            out += "{"
            for (i, entry) in entries.enumerated() {
                if i > 0 { out += ", " }
                write(entry.key, into: &out)
                out += ": "
                write(entry.value, into: &out)
            }
            out += "}"
        case .comprehension(let macro, let range, let variable, let arguments):
            write(range, into: &out, atLeast: 7)
            out += ".\(macro.rawValue)(\(variable)"
            for argument in arguments {
                out += ", "
                write(argument, into: &out)
            }
            out += ")"
        }
        if needsParens { out += ")" }
    }

    static func writeList(_ items: [CELExpression], into out: inout String) {
        for (i, item) in items.enumerated() {
            if i > 0 { out += ", " }
            write(item, into: &out)
        }
    }

    static func selector(_ field: String) -> String {
        let simple = field.utf8.first.map { ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A || $0 == 0x5F } == true
            && field.utf8.allSatisfy { ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A || $0 == 0x5F || ($0 >= 0x30 && $0 <= 0x39) }
        return simple ? field : "`\(field)`"
    }

    static func writeLiteral(_ value: CELValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .uint(let u): out += "\(u)u"
        case .double(let d): out += formatDouble(d)
        case .string(let s): out += quote(s)
        case .bytes(let b): out += "b" + quoteBytes(b)
        default: out += "null"  // only scalar literals come from the parser
        }
    }

    /// A double literal that lexes back as a double with the same value.
    static func formatDouble(_ d: Double) -> String {
        let text = d.description
        if text.contains("e+") { return text.split(separator: "+").joined() }
        if text.contains(".") || text.contains("e") { return text }
        return text + ".0"
    }

    static func quote(_ s: String) -> String {
        StringEscape.quoted(s) { scalar in scalar.value < 0x20 || scalar.value == 0x7F ? "\\x" + hex2(UInt8(scalar.value)) : nil }
    }

    static func quoteBytes(_ bytes: [UInt8]) -> String {
        var out = "\""
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""): out += "\\\""
            case UInt8(ascii: "\\"): out += "\\\\"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += "\\x" + hex2(b)
            }
        }
        return out + "\""
    }

    static func hex2(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
    }
}
