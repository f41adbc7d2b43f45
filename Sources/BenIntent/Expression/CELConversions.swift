/// The type conversions: int(), uint(), double(), string(), bytes(), bool(), timestamp(), duration().
enum CELConversions {
    typealias E = EvaluationError

    static func toInt(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .int: return v
        case .uint(let u):
            guard u <= UInt64(Int64.max) else { throw E(.outOfRange, "range error: \(u)u does not fit in an int") }
            return .int(Int64(u))
        case .double(let d):
            guard d > -9_223_372_036_854_775_808.0 && d < 9_223_372_036_854_775_808.0 else {
                throw E(.outOfRange, "range error: \(d) does not fit in an int")
            }
            return .int(Int64(d.rounded(.towardZero)))
        case .string(let s):
            guard let i = Int64(s) else { throw E(.invalidArgument, "cannot convert \(CELPrinter.quote(s)) to int") }
            return .int(i)
        case .timestamp(let t): return .int(t.seconds)
        default: throw E.overload("int", v)
        }
    }

    static func toUInt(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .uint: return v
        case .int(let i):
            guard i >= 0 else { throw E(.outOfRange, "range error: \(i) is negative and cannot be a uint") }
            return .uint(UInt64(i))
        case .double(let d):
            guard d > -1 && d < 18_446_744_073_709_551_616.0 else {
                throw E(.outOfRange, "range error: \(d) does not fit in a uint")
            }
            return .uint(UInt64(d.rounded(.towardZero)))
        case .string(let s):
            guard let u = UInt64(s) else { throw E(.invalidArgument, "cannot convert \(CELPrinter.quote(s)) to uint") }
            return .uint(u)
        default: throw E.overload("uint", v)
        }
    }

    static func toDouble(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .double: return v
        case .int(let i): return .double(Double(i))
        case .uint(let u): return .double(Double(u))
        case .string(let s):
            let lower = s.lowercased()
            if lower == "nan" { return .double(.nan) }
            if lower == "inf" || lower == "+inf" || lower == "infinity" { return .double(.infinity) }
            if lower == "-inf" || lower == "-infinity" { return .double(-.infinity) }
            guard let d = Double(s) else { throw E(.invalidArgument, "cannot convert \(CELPrinter.quote(s)) to double") }
            return .double(d)
        default: throw E.overload("double", v)
        }
    }

    static func toString(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .string: return v
        case .int(let i): return .string(String(i))
        case .uint(let u): return .string(String(u))
        case .double(let d): return .string(formatDouble(d))
        case .bool(let b): return .string(b ? "true" : "false")
        case .bytes(let b):
            guard let s = String(validating: b, as: UTF8.self) else {
                throw E(.invalidArgument, "invalid UTF-8 in bytes converted to string")
            }
            return .string(s)
        case .timestamp(let t): return .string(CELTime.format(t))
        case .duration(let d): return .string(CELTime.format(d))
        case .type(let t): return .string(t.name)
        default: throw E.overload("string", v)
        }
    }

    static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        if d == d.rounded(), d.magnitude < 1e21 {
            let text = d.description
            if text.hasSuffix(".0") { return String(text.dropLast(2)) }
            return text
        }
        return d.description
    }

    static func toBytes(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .bytes: return v
        case .string(let s): return .bytes(Array(s.utf8))
        default: throw E.overload("bytes", v)
        }
    }

    static func toBool(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .bool: return v
        case .string(let s):
            switch s {
            case "1", "t", "true", "TRUE", "True": return .bool(true)
            case "0", "f", "false", "FALSE", "False": return .bool(false)
            default: throw E(.invalidArgument, "cannot convert \(CELPrinter.quote(s)) to bool")
            }
        default: throw E.overload("bool", v)
        }
    }

    static func toTimestamp(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .timestamp: return v
        case .string(let s):
            guard let t = CELTime.parseTimestamp(s) else {
                throw E(.invalidArgument, "cannot read \(CELPrinter.quote(s)) as an RFC 3339 timestamp")
            }
            return .timestamp(t)
        case .int(let i):
            guard i >= CELTimestamp.minSeconds && i <= CELTimestamp.maxSeconds else {
                throw E(.outOfRange, "range error: timestamp(\(i)) is outside years 1 to 9999")
            }
            return .timestamp(CELTimestamp(seconds: i))
        default: throw E.overload("timestamp", v)
        }
    }

    static func toDuration(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .duration: return v
        case .string(let s):
            guard let d = CELTime.parseDuration(s) else {
                throw E(.invalidArgument, "cannot read \(CELPrinter.quote(s)) as a duration (such as \"1h30m\" or \"2.5s\")")
            }
            return .duration(d)
        case .int(let i):
            // protobuf's Duration range: about ±10 000 years.
            guard i.magnitude <= 315_576_000_000 else { throw E(.outOfRange, "range error: duration(\(i)) is beyond ±10 000 years") }
            return .duration(CELDuration(seconds: i))
        default: throw E.overload("duration", v)
        }
    }

    /// The type names that are also identifiers (`int`, `list`, …) and evaluate to type values.
    static let typeIdentifiers: [String: CELTypeName] = [
        "int": .int, "uint": .uint, "double": .double, "bool": .bool, "string": .string, "bytes": .bytes,
        "list": .list, "map": .map, "null_type": .nullType, "type": .type,
        "google.protobuf.Timestamp": .timestamp, "google.protobuf.Duration": .duration,
    ]
}
