/// A static type, as the checker infers it. Records are the schemas users declare.
public indirect enum CELType: Sendable, Hashable, CustomStringConvertible {
    case dyn
    case null
    case bool
    case int
    case uint
    case double
    case string
    case bytes
    case timestamp
    case duration
    case list(CELType)
    case map(CELType, CELType)
    case record(CELRecordType)
    /// The type of a type value (`type(x)`, `int`).
    case type

    public var description: String {
        switch self {
        case .dyn: "dyn"
        case .null: "null"
        case .bool: "bool"
        case .int: "int"
        case .uint: "uint"
        case .double: "double"
        case .string: "string"
        case .bytes: "bytes"
        case .timestamp: "timestamp"
        case .duration: "duration"
        case .list(let e): "list<\(e)>"
        case .map(let k, let v): "map<\(k), \(v)>"
        case .record(let r): r.name
        case .type: "type"
        }
    }

    var isNumeric: Bool { self == .int || self == .uint || self == .double }

    /// Whether a value of one type may stand where the other is expected: equal, or either side is dyn
    /// (at any depth), or a record where a map with string keys is expected.
    func isAssignable(to other: CELType) -> Bool {
        switch (self, other) {
        case (.dyn, _), (_, .dyn): true
        case (.list(let a), .list(let b)): a.isAssignable(to: b)
        case (.map(let ak, let av), .map(let bk, let bv)): ak.isAssignable(to: bk) && av.isAssignable(to: bv)
        case (.record(let a), .record(let b)): a == b
        default: self == other
        }
    }

    /// The common type of two branches or elements: their type if they agree, else dyn.
    func joined(with other: CELType) -> CELType {
        if self == other { return self }
        switch (self, other) {
        case (.list(let a), .list(let b)): return .list(a.joined(with: b))
        case (.map(let ak, let av), .map(let bk, let bv)): return .map(ak.joined(with: bk), av.joined(with: bv))
        default: return .dyn
        }
    }
}

/// The static shape of a schema version: each field's type and whether it is always present.
public final class CELRecordType: Sendable, Hashable {
    public struct Field: Sendable, Hashable {
        public var name: String
        public var type: CELType
        /// Required or defaulted: present in every validated record.
        public var alwaysPresent: Bool

        public init(name: String, type: CELType, alwaysPresent: Bool) {
            self.name = name
            self.type = type
            self.alwaysPresent = alwaysPresent
        }
    }

    /// `name@version` for a top-level schema, with a path for nested objects (`http_request@2.client`).
    public let name: String
    public let fields: [Field]
    public let shape: CELRecordShape
    let index: [String: Int]

    public init(name: String, fields: [Field]) {
        self.name = name
        self.fields = fields
        self.shape = CELRecordShape(name: name, fieldNames: fields.map(\.name))
        self.index = shape.slots
    }

    public func field(_ name: String) -> (slot: Int, field: Field)? {
        guard let slot = index[name] else { return nil }
        return (slot, fields[slot])
    }

    public static func == (a: CELRecordType, b: CELRecordType) -> Bool { a === b || (a.name == b.name && a.fields == b.fields) }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}
