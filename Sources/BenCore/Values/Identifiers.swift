/// The name of a fleet. It appears inside NATS subjects (`ben.<fleet>.announce`), so it is restricted to
/// lowercase letters, digits, `-` and `_`, 1 to 63 characters, starting with a letter or digit.
public struct FleetName: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The name as written; it always satisfies `isValid(_:)`.
    public let rawValue: String

    /// The fleet called `rawValue`, or nil when the name breaks `rule`.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// Whether `s` may name a fleet: the check `init?(_:)` makes, for callers that only need the answer.
    public static func isValid(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...63).contains(u.count), u[0].isLowerAlphanumeric else { return false }
        return u.allSatisfy { $0.isLowerAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }

    /// The naming rule in words, for the error a caller prints after a refused name.
    public static let rule = "1-63 characters of a-z, 0-9, '-' or '_', starting with a letter or digit"

    /// The name itself, as it appears in subjects.
    public var description: String { rawValue }
    /// Orders by name; names are ASCII, so this is byte order and sorts the same on every host.
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A node's id, as the topology lists it: 1 to 128 characters of letters, digits, `.`, `-` and `_`,
/// starting with a letter or digit.
public struct NodeID: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The id as the topology lists it; it always satisfies `isValid(_:)`.
    public let rawValue: String

    /// The node called `rawValue`, or nil when the id breaks `rule`.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// For literals in tests and fixtures; an invalid literal is a programmer error.
    public init(stringLiteral value: String) {
        precondition(Self.isValid(value), "invalid node id literal \(value)")
        self.rawValue = value
    }

    /// Whether `s` may be a node id: the check `init?(_:)` makes.
    public static func isValid(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...128).contains(u.count), u[0].isAlphanumeric else { return false }
        return u.allSatisfy {
            $0.isAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
        }
    }

    /// The id rule in words, for the error a caller prints after a refused id.
    public static let rule = "1-128 characters of letters, digits, '.', '-' or '_', starting with a letter or digit"

    /// The ledger's name on peer links and in plans (a stripe root's parent). Reserved: no node may take it.
    public static let ledger: NodeID = "ledger"

    /// The id itself.
    public var description: String { rawValue }
    /// Orders by id; ids are ASCII, so this is byte order and node lists sort the same on every host.
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A fleet-wide, strictly increasing version number (DESIGN §1). Version 0 means "nothing yet".
public struct Version: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The number; 0 is `none`.
    public let rawValue: UInt64

    /// Version `rawValue`; any number is accepted (0 means nothing yet).
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    /// Version `value`, for literals such as `let v: Version = 3`.
    public init(integerLiteral value: UInt64) { self.rawValue = value }

    /// Version 0: what a node runs before its first activation, and "no version" in documents.
    public static let none = Version(0)
    /// The version after this one: the number the ledger gives the next staged bundle.
    public var next: Version { Version(rawValue + 1) }

    /// The spelling operators read: `v3`.
    public var description: String { "v\(rawValue)" }
    /// Newer versions are greater; a node accepts only a version greater than the one it runs.
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// The component roles a node can run (DESIGN §1). An artifact lists the roles that need it.
public enum Role: String, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    /// Validates records against schemas and applies the spine's policy.
    case spine
    /// Decides requests with policy packs.
    case proxy
    /// Migrates records between schema versions by contract.
    case dataMigrator = "data_migrator"
    /// Raises alerts from events with rule sets.
    case detector

    /// The role as topology and intent files spell it (`data_migrator`).
    public var description: String { rawValue }
    /// Orders by spelling, so role lists sort the same everywhere.
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    /// Every role's spelling, comma-separated, for help text and errors that list the choices.
    public static let spelling = allCases.map(\.rawValue).joined(separator: ", ")
}

/// What an artifact is.
public enum ArtifactKind: String, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    /// One version of a record schema (`schema/NAME@VERSION`).
    case schema
    /// A policy pack: rules that decide requests (`policy_pack/NAME`).
    case policyPack = "policy_pack"
    /// A detection rule set (`rule_set/NAME`).
    case ruleSet = "rule_set"
    /// A migration contract between two schema versions (`contract/NAME`).
    case contract

    /// The kind as artifact names and manifests spell it (`policy_pack`).
    public var description: String { rawValue }
    /// Orders by spelling, so manifests list artifacts in the same order everywhere.
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    /// Every kind's spelling, comma-separated, for help text and errors that list the choices.
    public static let spelling = allCases.map(\.rawValue).joined(separator: ", ")
}

extension UInt8 {
    fileprivate var isLowerAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }

    fileprivate var isAlphanumeric: Bool {
        isLowerAlphanumeric || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
    }
}
