public import BenCore

/// The type of a schema field, as written in the source (`int`, `list<string>`, `map<string, object>`).
public indirect enum FieldType: Sendable, Hashable, CustomStringConvertible {
    case string, int, uint, double, bool, bytes, timestamp
    case list(FieldType)
    /// A map with string keys.
    case map(FieldType)
    /// A nested record; its fields are sorted by name.
    case object([FieldDeclaration])

    public var description: String {
        switch self {
        case .string: "string"
        case .int: "int"
        case .uint: "uint"
        case .double: "double"
        case .bool: "bool"
        case .bytes: "bytes"
        case .timestamp: "timestamp"
        case .list(let e): "list<\(e.shortName)>"
        case .map(let v): "map<string, \(v.shortName)>"
        case .object: "object"
        }
    }

    var shortName: String {
        if case .object = self { return "object" }
        return description
    }

    /// The same type with nested fields ignored: what a compatibility check compares first.
    func sameShape(_ other: FieldType) -> Bool {
        switch (self, other) {
        case (.list(let a), .list(let b)), (.map(let a), .map(let b)): a.sameShape(b)
        case (.object, .object): true
        default: self == other
        }
    }

    public static let spelling = "string, int, uint, double, bool, bytes, timestamp, object, list<T>, map<string, T>"

    /// The types that take no parameter, by name.
    static let scalars: [Substring: FieldType] = [
        "string": .string, "int": .int, "uint": .uint, "double": .double, "bool": .bool, "bytes": .bytes, "timestamp": .timestamp,
    ]

    /// Reads a type as `description` spells it; nil for anything else. `mapKey` is what stands between `map<` and
    /// the value type (`string, ` in an artifact, `string,` in source once its spaces are gone), and `object` is
    /// the type `object` stands for, at any depth (its fields are declared beside the type, not in it).
    init?(spelling s: Substring, mapKey: String, object: FieldType?) {
        func parameter(after prefix: String) -> FieldType? {
            guard s.hasPrefix(prefix) && s.hasSuffix(">") else { return nil }
            return FieldType(spelling: s.dropFirst(prefix.count).dropLast(), mapKey: mapKey, object: object)
        }
        if s == "object" {
            guard let object else { return nil }
            self = object
        } else if let scalar = Self.scalars[s] {
            self = scalar
        } else if let element = parameter(after: "list<") {
            self = .list(element)
        } else if let value = parameter(after: "map<" + mapKey) {
            self = .map(value)
        } else {
            return nil
        }
    }
}

/// One field of a schema.
public struct FieldDeclaration: Sendable, Hashable {
    public var name: String
    public var type: FieldType
    /// A required field must be present in every record.
    public var required: Bool
    /// Filled in when a record leaves the field out.
    public var defaultValue: JSONValue?
    public var location: FileLocation

    /// Present in every validated record: required, or filled by a default.
    public var alwaysPresent: Bool { required || defaultValue != nil }

    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.type == b.type && a.required == b.required && a.defaultValue == b.defaultValue
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(type)
    }
}

/// How a new version of a schema must relate to the previous one.
public enum CompatibilityMode: String, Sendable, Hashable, CaseIterable {
    /// Readers of the previous version still accept records of the new one: nothing they rely on is removed
    /// or retyped (a required field stays present with its type).
    case backward
    /// Readers of the new version accept records of the previous one: a field the new version requires was
    /// already present before, or has a default.
    case forward
    /// Both.
    case full
    /// No check.
    case none

    public static let spelling = allCases.map(\.rawValue).joined(separator: ", ")
}

/// What a record that carries fields its schema does not declare gets.
public enum UnknownFields: String, Sendable, Hashable, CaseIterable {
    case reject
    case ignore
}

public struct SchemaDeclaration: Sendable {
    public var name: String
    public var version: Int
    public var compatibility: CompatibilityMode
    public var unknownFields: UnknownFields
    /// Sorted by name.
    public var fields: [FieldDeclaration]
    public var location: FileLocation
    /// Where the version is written (duplicate versions are reported there).
    public var versionLocation: FileLocation

    public var reference: SchemaReference { SchemaReference(name: name, version: version) }
}

/// `name@version`.
public struct SchemaReference: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var name: String
    public var version: Int

    public init(name: String, version: Int) {
        self.name = name
        self.version = version
    }

    public var description: String { "\(name)@\(version)" }
    public static func < (a: Self, b: Self) -> Bool { (a.name, a.version) < (b.name, b.version) }
}

/// What a matching policy rule does.
public enum PolicyAction: Sendable, Hashable, CustomStringConvertible {
    case allow
    case deny
    case route(String)
    /// Adds a tag and goes on to the next rule.
    case tag(String)

    public var isFinal: Bool {
        if case .tag = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .allow: "allow"
        case .deny: "deny"
        case .route(let target): "route to \(target)"
        case .tag(let tag): "tag \(tag)"
        }
    }

    /// The action as artifacts and evaluation reports write it: `{"type": "route", "target": "canary"}`.
    var json: JSONValue {
        switch self {
        case .allow: ["type": "allow"]
        case .deny: ["type": "deny"]
        case .route(let target): ["type": "route", "target": .string(target)]
        case .tag(let tag): ["type": "tag", "tag": .string(tag)]
        }
    }
}

/// What a policy pack does when a rule's condition fails to evaluate (a missing field, an overflow).
public enum ErrorPolicy: String, Sendable, Hashable, CaseIterable {
    /// The request is denied, naming the rule and the error: fail closed.
    case deny
    /// The rule counts as not matched and evaluation goes on; the error is still reported.
    case skip
}

public struct RuleDeclaration: Sendable {
    public var name: String
    public var when: String
    public var whenLocation: FileLocation
    public var action: PolicyAction
    public var location: FileLocation
}

public struct PolicyPackDeclaration: Sendable {
    public var name: String
    public var roles: [Role]
    public var input: SchemaReference
    public var inputLocation: FileLocation
    public var onError: ErrorPolicy
    public var rules: [RuleDeclaration]
    public var defaultAction: PolicyAction
    public var location: FileLocation
    /// Where the name is written (duplicate names are reported there).
    public var nameLocation: FileLocation
}

public enum Severity: String, Sendable, Hashable, CaseIterable, Comparable {
    case info, low, medium, high, critical

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    public static let spelling = allCases.map(\.rawValue).joined(separator: ", ")
}

public struct DetectionRuleDeclaration: Sendable {
    public var name: String
    public var when: String
    public var whenLocation: FileLocation
    public var severity: Severity
    public var message: String
    public var location: FileLocation
}

public struct RuleSetDeclaration: Sendable {
    public var name: String
    public var event: SchemaReference
    public var eventLocation: FileLocation
    public var rules: [DetectionRuleDeclaration]
    public var location: FileLocation
    /// Where the name is written (duplicate names are reported there).
    public var nameLocation: FileLocation
}

/// One step of a migration, applied in order to a record of the source version.
public enum MigrationStep: Sendable, Hashable {
    case rename(from: String, to: String)
    case setDefault(field: String, value: JSONValue)
    case drop(field: String)
    /// `field` takes the value of a CEL expression over the source record (`record`).
    case compute(field: String, expression: String)
}

public struct LocatedStep: Sendable {
    public var step: MigrationStep
    public var location: FileLocation
    /// Where an expression starts, for compute steps.
    public var expressionLocation: FileLocation?
}

public struct ContractDeclaration: Sendable {
    public var name: String
    public var schema: String
    public var from: Int
    public var to: Int
    public var compatibility: CompatibilityMode
    public var steps: [LocatedStep]
    public var location: FileLocation
    /// Where the name is written (duplicate names are reported there).
    public var nameLocation: FileLocation
}

/// Everything read from an intent source, before cross-checks.
public struct IntentDeclarations: Sendable {
    public var schemas: [SchemaDeclaration] = []
    public var policyPacks: [PolicyPackDeclaration] = []
    public var ruleSets: [RuleSetDeclaration] = []
    public var contracts: [ContractDeclaration] = []
}

/// One source file handed to the compiler: its path (as it should appear in errors) and its text.
public struct IntentSourceFile: Sendable, Hashable {
    public var path: String
    public var text: String

    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}
