/// The type conversions: int(), uint(), double(), string(), bytes(), bool(), timestamp(), duration().
enum CELConversions {
    typealias E = EvaluationError

    /// `parse(s)`, or the invalid-argument error "cannot <verb> "s" <target>".
    static func parsed<T>(_ s: String, _ verb: String, _ target: String, _ parse: (String) -> T?) throws(E) -> T {
        guard let value = parse(s) else { throw E(.invalidArgument, "cannot \(verb) \(CELPrinter.quote(s)) \(target)") }
        return value
    }

    /// Nothing when `fits`; otherwise the range error "range error: <problem>".
    static func checkRange(_ fits: Bool, _ problem: @autoclosure () -> String) throws(E) {
        if !fits { throw E(.outOfRange, "range error: \(problem())") }
    }

    static func toInt(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .int: return v
        case .uint(let u):
            try checkRange(u <= UInt64(Int64.max), "\(u)u does not fit in an int")
            return .int(Int64(u))
        case .double(let d):
            try checkRange(d > -9_223_372_036_854_775_808.0 && d < 9_223_372_036_854_775_808.0, "\(d) does not fit in an int")
            return .int(Int64(d.rounded(.towardZero)))
        case .string(let s): return .int(try parsed(s, "convert", "to int") { Int64($0) })
        case .timestamp(let t): return .int(t.seconds)
        default: throw E.overload("int", v)
        }
    }

    static func toUInt(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .uint: return v
        case .int(let i):
            try checkRange(i >= 0, "\(i) is negative and cannot be a uint")
            return .uint(UInt64(i))
        case .double(let d):
            try checkRange(d > -1 && d < 18_446_744_073_709_551_616.0, "\(d) does not fit in a uint")
            return .uint(UInt64(d.rounded(.towardZero)))
        case .string(let s): return .uint(try parsed(s, "convert", "to uint") { UInt64($0) })
        default: throw E.overload("uint", v)
        }
    }

    /// The spellings of NaN and the infinities that `double()` accepts, in any case.
    static let nonFiniteSpellings: [String: Double] = [
        "nan": .nan, "inf": .infinity, "+inf": .infinity, "infinity": .infinity, "-inf": -.infinity, "-infinity": -.infinity,
    ]

    static func toDouble(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .double: return v
        case .int(let i): return .double(Double(i))
        case .uint(let u): return .double(Double(u))
        case .string(let s): return .double(try parsed(s, "convert", "to double") { nonFiniteSpellings[$0.lowercased()] ?? Double($0) })
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

    /// The spellings `bool()` accepts, as cel-go's.
    static let boolSpellings: [String: Bool] = [
        "1": true, "t": true, "true": true, "TRUE": true, "True": true,
        "0": false, "f": false, "false": false, "FALSE": false, "False": false,
    ]

    static func toBool(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .bool: return v
        case .string(let s): return .bool(try parsed(s, "convert", "to bool") { boolSpellings[$0] })
        default: throw E.overload("bool", v)
        }
    }

    static func toTimestamp(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .timestamp: return v
        case .string(let s): return .timestamp(try parsed(s, "read", "as an RFC 3339 timestamp", CELTime.parseTimestamp))
        case .int(let i):
            try checkRange(i >= CELTimestamp.minSeconds && i <= CELTimestamp.maxSeconds, "timestamp(\(i)) is outside years 1 to 9999")
            return .timestamp(CELTimestamp(seconds: i))
        default: throw E.overload("timestamp", v)
        }
    }

    static func toDuration(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .duration: return v
        case .string(let s):
            return .duration(try parsed(s, "read", "as a duration (such as \"1h30m\" or \"2.5s\")", CELTime.parseDuration))
        case .int(let i):
            // protobuf's Duration range: about ±10 000 years.
            try checkRange(i.magnitude <= 315_576_000_000, "duration(\(i)) is beyond ±10 000 years")
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
