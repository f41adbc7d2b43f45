/// Where a problem is in a file someone wrote (an intent source, a topology, a scenario, a config file): the file,
/// a 1-based line and column (0 when not known), and the path of the field (`rules[2].when`,
/// `regions[eu-1].zones[a]`).
///
/// Every module's error type keeps its own codes and wording, and carries one of these for the place, so that
/// every located problem prints the same way (`describe(_:fix:)`), as DESIGN §7 asks: the file, line and field,
/// then what is wrong and what to do.
public struct FileLocation: Sendable, Hashable {
    /// The file as the user named it; empty when the problem is not in a file (a planning request, a flag).
    public var file: String
    /// 1-based; 0 when the problem concerns the whole file.
    public var line: Int
    /// 1-based; 0 when only the line is known.
    public var column: Int
    /// Dotted path of the field, such as `rules[2].when`; empty for the document as a whole.
    public var field: String

    /// A location; leave out what is not known (empty or 0), and it is left out of `place` and `describe(_:fix:)`.
    public init(file: String = "", line: Int = 0, column: Int = 0, field: String = "") {
        self.file = file
        self.line = line
        self.column = column
        self.field = field
    }

    /// `file:line:column: `, leaving out what is not known; empty when there is no file.
    public var place: String {
        guard !file.isEmpty else { return "" }
        guard line > 0 else { return "\(file): " }
        return column > 0 ? "\(file):\(line):\(column): " : "\(file):\(line): "
    }

    /// The line a CLI prints for a problem here: `file:line:column: field: problem; fix`, leaving out the parts
    /// that are unknown or empty.
    public func describe(_ problem: String, fix: String = "") -> String {
        var out = place
        if !field.isEmpty { out += "\(field): " }
        out += problem
        if !fix.isEmpty { out += "; \(fix)" }
        return out
    }

    /// The location of a member of this field: `field.name`.
    public func child(_ name: String) -> FileLocation {
        var copy = self
        copy.field = Self.join(field, name)
        return copy
    }

    /// The location of an element of this list field: `field[i]`.
    public func index(_ i: Int) -> FileLocation {
        var copy = self
        copy.field = "\(field)[\(i)]"
        return copy
    }

    /// The same field at another line and column.
    public func at(line: Int, column: Int = 0) -> FileLocation {
        var copy = self
        copy.line = line
        copy.column = column
        return copy
    }

    /// Joins a field path: `regions[eu-1].zones`; a name alone at the top.
    public static func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }
}

/// A value placed in a file, such as a module's error: the parts of its `location` (`file`, `line`, `column`,
/// `field`) read and written directly, as `error.line`.
@dynamicMemberLookup
public protocol FileLocated {
    /// Where the value is.
    var location: FileLocation { get set }
}

extension FileLocated {
    /// A part of `location`, read or written through the value: `error.file`, `error.line = 3`.
    public subscript<Part>(dynamicMember part: WritableKeyPath<FileLocation, Part>) -> Part {
        get { location[keyPath: part] }
        set { location[keyPath: part] = newValue }
    }
}
