import BenCore
import Yams

extension FieldType {
    var containsObject: Bool {
        switch self {
        case .object: true
        case .list(let e), .map(let e): e.containsObject
        default: false
        }
    }
}

/// Turns YAML values (defaults, contract values) into JSON of a declared field type.
enum YAMLValues {
    /// A YAML value as JSON without a declared type: plain scalars that read as numbers or booleans become
    /// those, everything else a string. Used only until the field's type is known.
    static func untyped(_ node: Yams.Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            let s = scalar.string
            guard node.scalarStyle == .plain else { return .string(s) }
            if s == "true" { return .bool(true) }
            if s == "false" { return .bool(false) }
            if s == "null" || s == "~" { return .null }
            if let i = Int64(s) { return .int(i) }
            if let d = Double(s), d.isFinite, s.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { return .double(d) }
            return .string(s)
        case .sequence(let items): return .array(items.map(untyped))
        case .mapping(let pairs):
            var object: [String: JSONValue] = [:]
            for (k, v) in pairs { object[k.scalarString ?? ""] = untyped(v) }
            return .object(object)
        case .alias:
            // Composing expands every alias; none reaches a reader.
            return .null
        }
    }

    /// A YAML value checked against `type`, as JSON. Errors name the exact element (`default[2]`).
    static func json(_ node: Yams.Node, as type: FieldType, at location: FileLocation, _ errors: inout [IntentError]) -> JSONValue? {
        let value = untyped(node)
        if let style = node.scalarStyle, style != .plain, value.stringValue != nil {
            switch type {
            case .int, .uint, .double, .bool:
                errors.append(location.error(.wrongType, "expected \(type), found a quoted string; remove the quotes"))
                return nil
            default: break
            }
        }
        if let problem = problem(value, as: type, at: location) {
            errors.append(problem)
            return nil
        }
        return value
    }

    /// Why `value` cannot be a value of `type` in a bundle (an integer JSON cannot carry exactly, or the wrong
    /// type), at the exact element; `prefix` leads the type problem's message.
    static func problem(_ value: JSONValue, as type: FieldType, at location: FileLocation, prefix: String = "") -> IntentError? {
        if let path = unsafeInteger(value, path: location.field) {
            return IntentError(.invalidValue, file: location.file, line: location.line, column: location.column, field: path,
                "integers beyond ±2^53 cannot be carried exactly in a bundle; use a smaller value")
        }
        let problems = RecordValidator.check(value, as: type, path: location.field)
        if let first = problems.first {
            return IntentError(.wrongType, file: location.file, line: location.line, column: location.column, field: first.path, prefix + first.message)
        }
        return nil
    }

    /// The path of the first integer in `value` that JSON cannot carry exactly, if any.
    static func unsafeInteger(_ value: JSONValue, path: String) -> String? {
        switch value {
        case .int(let i): return i.magnitude > UInt64(JSONValue.maxSafeInteger) ? path : nil
        case .array(let items):
            for (i, item) in items.enumerated() { if let p = unsafeInteger(item, path: "\(path)[\(i)]") { return p } }
            return nil
        case .object(let members):
            for key in members.keys.sorted() { if let p = unsafeInteger(members[key]!, path: "\(path).\(key)") { return p } }
            return nil
        default: return nil
        }
    }
}
