/// A JSON value as Ben's documents use it: I-JSON (RFC 7493), so object keys are unique and numbers are
/// exact integers within ±2^53 or IEEE doubles.
///
/// Integers are kept apart from doubles so that versions, sizes and counts survive a round trip exactly;
/// both serialise to the same canonical text when their values agree (`1` and `1.0` are both `1`).
public enum JSONValue: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// An integer. The parser gives one for a number without fraction or exponent within ±2^53; canonical encoding
    /// refuses one beyond that.
    case int(Int64)
    /// Any other number. The parser never gives a non-finite one, and canonical encoding refuses one.
    case double(Double)
    /// A string.
    case string(String)
    /// An array, in order.
    case array([JSONValue])
    /// An object; member names are unique and their order carries no meaning.
    case object([String: JSONValue])
}

extension JSONValue {
    /// The largest magnitude an integer may have and still be exact in every JSON implementation (2^53).
    public static let maxSafeInteger: Int64 = 9_007_199_254_740_992

    /// The members, when this is an object; nil otherwise.
    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The elements, when this is an array; nil otherwise.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The integer, when this is `.int`; nil otherwise, including for an integral `.double`.
    public var intValue: Int64? {
        if case .int(let i) = self { return i }
        return nil
    }

    /// The boolean, when this is one; nil otherwise.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The string, when this is one; nil otherwise.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The member `key` of an object; nil when there is none or this is not an object, so lookups chain
    /// (`answer["first_bad"]?["seq"]`).
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// A short name of the value's JSON type, for error messages ("expected string, found number").
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int, .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral,
    ExpressibleByFloatLiteral
{
    /// A string literal is `.string`.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An integer literal is `.int`.
    public init(integerLiteral value: Int64) { self = .int(value) }
    /// A boolean literal is `.bool`.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An array literal is `.array`.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// A floating-point literal is `.double`.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// `nil` is `.null`.
    public init(nilLiteral: ()) { self = .null }
    /// A dictionary literal is `.object`; when a key repeats, the last value wins.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        var object: [String: JSONValue] = [:]
        for (key, value) in elements { object[key] = value }
        self = .object(object)
    }
}
