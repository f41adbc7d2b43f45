public import BenCore
public import Yams

/// A problem reading a field of a YAML file, in the operator's terms: where (file, line, field), what is wrong and
/// what to do. Each reader turns it into its own module's error type, keeping its code.
public struct YAMLFieldProblem: Error, Sendable {
    public enum Code: Sendable, Hashable {
        case missingField, wrongType, unknownField, invalidValue
    }

    public var code: Code
    public var location: FileLocation
    public var problem: String
    public var fix: String

    public init(_ code: Code, at location: FileLocation, _ problem: String, fix: String) {
        self.code = code
        self.location = location
        self.problem = problem
        self.fix = fix
    }
}

/// The one reader of YAML mappings for Ben's files (topology files, simulator scenarios, intent sources): the
/// fields of one mapping, in order, each with the line of its key, checked against the names it may hold.
///
/// Reading the mapping reports a key that is not plain text and, when the allowed names are given, an unknown
/// field (with the nearest allowed name), and leaves both out; `problems` holds them in order. Lookups then give the
/// raw value (`node`) or the value unless it is null (`value`), and the typed accessors throw a
/// `YAMLFieldProblem` that names the field and says what to write.
public struct YAMLFields {
    public struct Entry {
        public let name: String
        public let key: Yams.Node
        public let value: Yams.Node
    }

    /// The mapping's place: its file, line and column, and its field path.
    public var location: FileLocation
    public private(set) var entries: [Entry] = []
    /// Keys that are not plain text, and unknown fields when `allowed` was given, in the order written.
    public private(set) var problems: [YAMLFieldProblem] = []

    /// Reads `node` as a mapping of fields.
    ///
    /// - Parameters:
    ///   - allowed: the field names it may hold, or nil to take every key (`unknown(allowed:)` reports them later).
    ///   - what: what the mapping is, for a wrong-type problem ("a topology", "the ledger").
    /// - Throws: a wrong-type problem when `node` is not a mapping.
    public init(_ node: Yams.Node, at location: FileLocation, allowed: [String]?, what: String) throws(YAMLFieldProblem) {
        self.location = location.at(line: node.line, column: node.column)
        guard case .mapping(let mapping) = node else {
            let fields = allowed.map { "; the fields are \($0.joined(separator: ", "))" } ?? ""
            throw YAMLFieldProblem(
                .wrongType, at: self.location, "expected \(what) (a mapping of fields), found \(node.kind.name)",
                fix: "write it as `field: value` lines\(fields)")
        }
        entries.reserveCapacity(mapping.count)
        for index in mapping.indices {
            let (key, value) = mapping[index]
            let keyLocation = self.location.at(line: key.line, column: key.column)
            guard let name = key.scalarText else {
                problems.append(
                    YAMLFieldProblem(
                        .wrongType, at: keyLocation, "a field name must be plain text, found \(key.kind.name)",
                        fix: allowed.map { "use one of \($0.joined(separator: ", "))" } ?? "write the name as plain text"))
                continue
            }
            if let allowed, !allowed.contains(name) {
                problems.append(Self.unknown(name, at: keyLocation.child(name), allowed: allowed))
                continue
            }
            entries.append(Entry(name: name, key: key, value: value))
        }
    }

    static func unknown(_ name: String, at location: FileLocation, allowed: [String]) -> YAMLFieldProblem {
        let hint = NearestName.suggestion(for: name, among: allowed).map { "did you mean '\($0)'? " } ?? "remove it; "
        return YAMLFieldProblem(.unknownField, at: location, "unknown field", fix: "\(hint)the fields here are \(allowed.joined(separator: ", "))")
    }

    /// The fields that `allowed` does not name, each at its key (for readers that take every key and check later).
    public func unknown(allowed: [String]) -> [(entry: Entry, problem: YAMLFieldProblem)] {
        entries.filter { !allowed.contains($0.name) }.map { entry in
            (entry, Self.unknown(entry.name, at: location.at(line: entry.key.line, column: entry.key.column).child(entry.name), allowed: allowed))
        }
    }

    /// The same fields under another path (an element's name instead of its index).
    public func renamed(to path: String) -> YAMLFields {
        var copy = self
        copy.location.field = path
        return copy
    }

    public var path: String { location.field }
    public var line: Int { location.line }

    /// The value written for `name`, null or not.
    public func node(_ name: String) -> Yams.Node? {
        for e in entries where e.name == name { return e.value }
        return nil
    }

    /// The value of `name`, or nil when absent or written as null.
    public func value(_ name: String) -> Yams.Node? {
        guard let v = node(name), !v.isNull else { return nil }
        return v
    }

    public func has(_ name: String) -> Bool { node(name) != nil }

    /// The line of the key `name`, or the mapping's when it is absent.
    public func line(of name: String) -> Int {
        for e in entries where e.name == name { return e.key.line }
        return location.line
    }

    /// The path of the field `name`: `regions[eu-1].zones`.
    public func field(_ name: String) -> String { FileLocation.join(location.field, name) }

    /// Where the value of `name` is written, or the mapping when it is absent, with the field's path.
    public func location(of name: String) -> FileLocation {
        let child = location.child(name)
        return node(name).map { child.at(line: $0.line, column: $0.column) } ?? child
    }

    /// The value of a field that must be there.
    ///
    /// - Throws: a missing-field problem that says to add `name: example`.
    public func required(_ name: String, example: String) throws(YAMLFieldProblem) -> Yams.Node {
        if let v = value(name) { return v }
        throw YAMLFieldProblem(
            .missingField, at: location.child(name), "required field is missing", fix: "add `\(name): \(example)`")
    }

    /// A plain-text field (a scalar), or nil when absent.
    public func text(_ name: String, example: String) throws(YAMLFieldProblem) -> String? {
        guard let v = value(name) else { return nil }
        guard let s = v.scalarText else {
            throw YAMLFieldProblem(
                .wrongType, at: at(v, name), "expected a single value, found \(v.kind.name)", fix: "write it as `\(name): \(example)`")
        }
        return s
    }

    /// A list field, or nil when absent.
    ///
    /// - Parameter what: what the list holds ("node ids"), for the wrong-type problem.
    public func list(_ name: String, what: String? = nil) throws(YAMLFieldProblem) -> [Yams.Node]? {
        guard let v = value(name) else { return nil }
        guard case .sequence(let sequence) = v else {
            let fix = what == nil ? "write it as `\(name): [a, b]` or as `- ` lines" : "write one `- …` line per item, or [a, b] on one line"
            throw YAMLFieldProblem(.wrongType, at: at(v, name), "expected a list\(what.map { " of \($0)" } ?? ""), found \(v.kind.name)", fix: fix)
        }
        return Array(sequence)
    }

    /// A problem with the value of `name`, at its line.
    public func problem(_ name: String, _ code: YAMLFieldProblem.Code = .invalidValue, _ problem: String, fix: String) -> YAMLFieldProblem {
        YAMLFieldProblem(code, at: location(of: name).at(line: value(name)?.line ?? line(of: name)), problem, fix: fix)
    }

    private func at(_ value: Yams.Node, _ name: String) -> FileLocation {
        location.child(name).at(line: value.line, column: value.column)
    }
}

/// The closest of some names to a word, when it is close enough to be a likely typo (YAML field names, node ids,
/// roles): Levenshtein distance within a third of the word (at least 2), case-insensitive.
public enum NearestName {
    public static func suggestion(for word: String, among candidates: some Sequence<String>) -> String? {
        var best: (String, Int)?
        let limit = max(2, word.count / 3)
        for c in candidates {
            let d = editDistance(word.lowercased(), c.lowercased(), limit: limit)
            if d <= limit, best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    /// Levenshtein distance, giving up (returning limit + 1) once it must exceed `limit`.
    static func editDistance(_ a: String, _ b: String, limit: Int) -> Int {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        if abs(x.count - y.count) > limit { return limit + 1 }
        if x.isEmpty || y.isEmpty { return max(x.count, y.count) }
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            var rowMin = i
            for j in 1...y.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
                rowMin = min(rowMin, current[j])
            }
            if rowMin > limit { return limit + 1 }
            swap(&previous, &current)
        }
        return previous[y.count]
    }
}
