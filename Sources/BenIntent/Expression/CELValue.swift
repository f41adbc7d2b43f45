/// A value of the expression language (CEL's runtime values).
///
/// Records that come from a declared schema are `.record` values: their fields sit in slots fixed by the schema,
/// so a compiled expression reads `request.port` by index instead of hashing a string. Everywhere else a record
/// behaves as a map with string keys (equality, `in`, `has()`, iteration).
public enum CELValue: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case list([CELValue])
    case map(CELMap)
    case record(CELRecord)
    case timestamp(CELTimestamp)
    case duration(CELDuration)
    case type(CELTypeName)
}

/// The runtime name of a value's type, what `type(x)` returns (`int`, `list`, `map`, `type`, …).
public struct CELTypeName: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public var description: String { name }

    public static let nullType = CELTypeName("null_type")
    public static let bool = CELTypeName("bool")
    public static let int = CELTypeName("int")
    public static let uint = CELTypeName("uint")
    public static let double = CELTypeName("double")
    public static let string = CELTypeName("string")
    public static let bytes = CELTypeName("bytes")
    public static let list = CELTypeName("list")
    public static let map = CELTypeName("map")
    public static let type = CELTypeName("type")
    public static let timestamp = CELTypeName("google.protobuf.Timestamp")
    public static let duration = CELTypeName("google.protobuf.Duration")
}

/// A point in time: seconds since the Unix epoch and nanoseconds (0..<1e9), as protobuf's Timestamp.
public struct CELTimestamp: Sendable, Hashable, Comparable {
    public var seconds: Int64
    public var nanos: Int32 = 0

    /// The range CEL allows: years 0001 to 9999.
    static let minSeconds: Int64 = -62_135_596_800
    static let maxSeconds: Int64 = 253_402_300_799

    public static func < (a: Self, b: Self) -> Bool { (a.seconds, a.nanos) < (b.seconds, b.nanos) }
}

/// A signed span of time in seconds and nanoseconds (same sign), as protobuf's Duration.
public struct CELDuration: Sendable, Hashable, Comparable {
    public var seconds: Int64
    public var nanos: Int32 = 0

    public static func < (a: Self, b: Self) -> Bool { (a.seconds, a.nanos) < (b.seconds, b.nanos) }
}

/// A map key. CEL keys are bool, int, uint or string; an int and a uint with the same numeric value are the
/// same key (`{1: 'a'}[1u]` finds it).
public enum CELMapKey: Sendable, Hashable {
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case string(String)

    public static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.bool(let x), .bool(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.int(let x), .int(let y)): x == y
        case (.uint(let x), .uint(let y)): x == y
        case (.int(let x), .uint(let y)), (.uint(let y), .int(let x)): x >= 0 && UInt64(x) == y
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .bool(let b): hasher.combine(0); hasher.combine(b)
        case .string(let s): hasher.combine(1); hasher.combine(s)
        // Non-negative ints hash as the uint of the same value, so equal keys hash alike.
        case .int(let i): if i >= 0 { hasher.combine(2); hasher.combine(UInt64(i)) } else { hasher.combine(3); hasher.combine(i) }
        case .uint(let u): hasher.combine(2); hasher.combine(u)
        }
    }

    public var value: CELValue {
        switch self {
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .uint(let u): .uint(u)
        case .string(let s): .string(s)
        }
    }

    /// The key a value stands for, or nil when the value cannot be a key. A double with an integral value finds
    /// the int or uint key of that value, as CEL's heterogeneous equality asks.
    public init?(_ value: CELValue) {
        switch value {
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .uint(let u): self = .uint(u)
        case .string(let s): self = .string(s)
        default: return nil
        }
    }
}

/// A map value: keys in insertion order (so iteration and printing are deterministic) and a hash index.
public struct CELMap: Sendable {
    public private(set) var keys: [CELMapKey] = []
    public private(set) var storage: [CELMapKey: CELValue] = [:]

    public init() {}

    public init(_ pairs: [(CELMapKey, CELValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public var count: Int { keys.count }

    public subscript(key: CELMapKey) -> CELValue? {
        get { storage[key] }
        set {
            guard let newValue else { return }
            if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
        }
    }

    public func contains(_ key: CELMapKey) -> Bool { storage[key] != nil }

    public var entries: [(key: CELMapKey, value: CELValue)] { keys.map { ($0, storage[$0]!) } }
}

/// The field layout of one declared schema version: names in slot order, and each name's slot.
public final class CELRecordShape: Sendable {
    public let name: String
    public let fieldNames: [String]
    public let slots: [String: Int]

    public init(name: String, fieldNames: [String]) {
        self.name = name
        self.fieldNames = fieldNames
        var slots: [String: Int] = [:]
        for (i, n) in fieldNames.enumerated() { slots[n] = i }
        self.slots = slots
    }
}

/// A record of a declared schema: one slot per declared field, nil where an optional field is absent.
public struct CELRecord: Sendable {
    public let shape: CELRecordShape
    public var values: [CELValue?]

    public init(shape: CELRecordShape, values: [CELValue?]) {
        precondition(values.count == shape.fieldNames.count, "a record has one slot per field of its shape")
        self.shape = shape
        self.values = values
    }

    public subscript(field: String) -> CELValue? {
        guard let slot = shape.slots[field] else { return nil }
        return values[slot]
    }

    /// The fields that are present, in declaration order.
    public var presentFields: [(name: String, value: CELValue)] {
        var out: [(String, CELValue)] = []
        for (i, v) in values.enumerated() { if let v { out.append((shape.fieldNames[i], v)) } }
        return out
    }

    public var count: Int { values.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
}

extension CELValue {
    public var typeName: CELTypeName {
        switch self {
        case .null: .nullType
        case .bool: .bool
        case .int: .int
        case .uint: .uint
        case .double: .double
        case .string: .string
        case .bytes: .bytes
        case .list: .list
        case .map, .record: .map
        case .timestamp: .timestamp
        case .duration: .duration
        case .type: .type
        }
    }
}
