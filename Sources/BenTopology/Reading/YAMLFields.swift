import Yams

/// Collects problems while reading, so `benctl topology check` can list them all at once.
struct Diagnostics {
    let file: String
    var errors: [TopologyError] = []

    mutating func add(
        _ code: TopologyError.Code, line: Int, field: String, _ problem: String, fix: String
    ) {
        errors.append(TopologyError(code, file: file, line: line, field: field, problem: problem, fix: fix))
    }
}

/// Joins a field path: `regions[eu-1].zones`.
func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

extension Yams.Node {
    var line: Int { mark?.line ?? 0 }

    /// The scalar text, or nil for a mapping, a sequence or an explicit null (`~`, `null`, nothing).
    var scalarText: String? {
        guard case .scalar(let s) = self else { return nil }
        if s.style == .plain || s.style == .any {
            switch s.string {
            case "", "~", "null", "Null", "NULL": return nil
            default: break
            }
        }
        return s.string
    }

    var isNull: Bool {
        guard case .scalar(let s) = self, s.style == .plain || s.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    /// "a mapping", "a list", "text": what a wrong-type error says was found.
    var kindName: String {
        switch self {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar: isNull ? "nothing (null)" : "a single value"
        }
    }
}

/// The fields of one YAML mapping, with the path and line of each, checked against the names it may hold.
struct Fields {
    var path: String
    let line: Int
    private var entries: [(name: String, line: Int, value: Yams.Node)] = []

    /// Reads `node` as a mapping; reports a wrong type or unknown fields (with a suggestion) and returns nil
    /// only for a wrong type.
    init?(_ node: Yams.Node, path: String, allowed: [String], what: String, diagnostics: inout Diagnostics) {
        self.path = path
        self.line = node.line
        guard case .mapping(let mapping) = node else {
            diagnostics.add(
                .wrongType, line: node.line, field: path, "expected \(what) (a mapping of fields), found \(node.kindName)",
                fix: "write it as `field: value` lines; the fields are \(allowed.joined(separator: ", "))")
            return nil
        }
        entries.reserveCapacity(mapping.count)
        for index in mapping.indices {
            let (key, value) = mapping[index]
            guard let name = key.scalarText else {
                diagnostics.add(
                    .wrongType, line: key.line, field: path, "a field name must be plain text, found \(key.kindName)",
                    fix: "use one of \(allowed.joined(separator: ", "))")
                continue
            }
            if !allowed.contains(name) {
                let hint = suggestion(for: name, among: allowed).map { "did you mean '\($0)'? " } ?? "remove it; "
                diagnostics.add(
                    .unknownField, line: key.line, field: join(path, name), "unknown field",
                    fix: "\(hint)the fields here are \(allowed.joined(separator: ", "))")
                continue
            }
            entries.append((name, key.line, value))
        }
    }

    /// The value of `name`, or nil when absent or written as null.
    func value(_ name: String) -> Yams.Node? {
        for e in entries where e.name == name { return e.value.isNull ? nil : e.value }
        return nil
    }

    func line(of name: String) -> Int {
        for e in entries where e.name == name { return e.line }
        return line
    }

    func field(_ name: String) -> String { join(path, name) }

    /// The value of a field that must be there; reports it missing otherwise.
    func required(_ name: String, example: String, diagnostics: inout Diagnostics) -> Yams.Node? {
        if let v = value(name) { return v }
        diagnostics.add(
            .missingField, line: line, field: field(name), "required field is missing", fix: "add `\(name): \(example)`")
        return nil
    }

    /// A plain-text field (a scalar); reports a wrong type.
    func text(_ name: String, diagnostics: inout Diagnostics, example: String) -> String? {
        guard let v = value(name) else { return nil }
        guard let s = v.scalarText else {
            diagnostics.add(
                .wrongType, line: v.line, field: field(name), "expected a single value, found \(v.kindName)",
                fix: "write it as `\(name): \(example)`")
            return nil
        }
        return s
    }

    /// A positive whole number.
    func count(_ name: String, diagnostics: inout Diagnostics) -> (value: Int, line: Int)? {
        guard let v = value(name) else { return nil }
        guard let s = v.scalarText, let n = Int(s) else {
            diagnostics.add(
                .wrongType, line: v.line, field: field(name), "expected a whole number, found \(describe(v))",
                fix: "write a whole number such as 4")
            return nil
        }
        return (n, v.line)
    }

    /// A list field; reports a wrong type.
    func list(_ name: String, diagnostics: inout Diagnostics, what: String) -> [Yams.Node]? {
        guard let v = value(name) else { return nil }
        guard case .sequence(let sequence) = v else {
            diagnostics.add(
                .wrongType, line: v.line, field: field(name), "expected a list of \(what), found \(v.kindName)",
                fix: "write one `- …` line per item, or [a, b] on one line")
            return nil
        }
        return Array(sequence)
    }
}

/// `'10 gigs'` or `a mapping`: how an error quotes what it found.
func describe(_ node: Yams.Node) -> String {
    if let s = node.scalarText { return "'\(s)'" }
    return node.kindName
}

/// The closest of `candidates` to `word` when it is close enough to be a likely typo.
func suggestion(for word: String, among candidates: some Sequence<String>) -> String? {
    var best: (String, Int)?
    let limit = max(2, word.count / 3)
    for c in candidates {
        let d = editDistance(word.lowercased(), c.lowercased(), limit: limit)
        if d <= limit, best == nil || d < best!.1 { best = (c, d) }
    }
    return best?.0
}

/// Levenshtein distance, giving up (returning limit + 1) once it must exceed `limit`.
func editDistance(_ a: String, _ b: String, limit: Int) -> Int {
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
