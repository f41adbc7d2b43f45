/// The name of a fleet. It appears inside NATS subjects (`ben.<fleet>.announce`), so it is restricted to
/// lowercase letters, digits, `-` and `_`, 1 to 63 characters, starting with a letter or digit.
public struct FleetName: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public static func isValid(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...63).contains(u.count), u[0].isLowerAlphanumeric else { return false }
        return u.allSatisfy { $0.isLowerAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }

    public static let rule = "1-63 characters of a-z, 0-9, '-' or '_', starting with a letter or digit"

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A node's id, as the topology lists it: 1 to 128 characters of letters, digits, `.`, `-` and `_`,
/// starting with a letter or digit.
public struct NodeID: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// For literals in tests and fixtures; an invalid literal is a programmer error.
    public init(stringLiteral value: String) {
        precondition(Self.isValid(value), "invalid node id literal \(value)")
        self.rawValue = value
    }

    public static func isValid(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...128).contains(u.count), u[0].isAlphanumeric else { return false }
        return u.allSatisfy {
            $0.isAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
        }
    }

    public static let rule = "1-128 characters of letters, digits, '.', '-' or '_', starting with a letter or digit"

    /// The ledger's name on peer links and in plans (a stripe root's parent). Reserved: no node may take it.
    public static let ledger: NodeID = "ledger"

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A fleet-wide, strictly increasing version number (DESIGN §1). Version 0 means "nothing yet".
public struct Version: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: UInt64

    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt64) { self.rawValue = value }

    public static let none = Version(0)
    public var next: Version { Version(rawValue + 1) }

    public var description: String { "v\(rawValue)" }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// The component roles a node can run (DESIGN §1). An artifact lists the roles that need it.
public enum Role: String, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    case spine
    case proxy
    case dataMigrator = "data_migrator"
    case detector

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public static let spelling = allCases.map(\.rawValue).joined(separator: ", ")
}

/// What an artifact is.
public enum ArtifactKind: String, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    case schema
    case policyPack = "policy_pack"
    case ruleSet = "rule_set"
    case contract

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
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
