public import Yams

/// What a YAML node is, in the words an error uses for what it found.
public enum YAMLKind: Sendable, Hashable {
    case mapping, list, alias, scalar
    /// `~`, `null` or nothing, written plainly.
    case null

    /// "a mapping", "a list", "a single value", "nothing (null)".
    public var name: String {
        switch self {
        case .mapping: "a mapping"
        case .list: "a list"
        case .alias: "an alias"
        case .scalar: "a single value"
        case .null: "nothing (null)"
        }
    }
}

extension Yams.Node {
    /// 1-based; 0 when the node has no position.
    public var line: Int { mark?.line ?? 0 }
    /// 1-based; 0 when the node has no position.
    public var column: Int { mark?.column ?? 0 }

    /// True for `~`, `null` (any case YAML allows) or nothing, written plainly: an absent value.
    public var isNull: Bool {
        guard case .scalar(let s) = self, s.style == .plain || s.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    public var kind: YAMLKind {
        switch self {
        case .mapping: .mapping
        case .sequence: .list
        case .alias: .alias
        case .scalar: isNull ? .null : .scalar
        }
    }

    /// The scalar text, or nil for a mapping, a list or a null.
    public var scalarText: String? {
        guard case .scalar(let s) = self, !isNull else { return nil }
        return s.string
    }

    /// `'10 gigs'` or `a mapping`: how an error quotes what it found.
    public var quoted: String { scalarText.map { "'\($0)'" } ?? kind.name }
}
