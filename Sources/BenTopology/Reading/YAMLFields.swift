import BenCore
import BenYAML
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

    /// A problem the YAML reader found, with its code, line and field.
    mutating func add(_ problem: YAMLFieldProblem) {
        let code: TopologyError.Code =
            switch problem.code {
            case .missingField: .missingField
            case .wrongType: .wrongType
            case .unknownField: .unknownField
            case .invalidValue: .invalidValue
            }
        add(code, line: problem.location.line, field: problem.location.field, problem.problem, fix: problem.fix)
    }
}

/// The fields of one YAML mapping: BenYAML's reader, reporting into the topology's diagnostics instead of throwing.
typealias Fields = YAMLFields

extension YAMLFields {
    /// Reads `node` as a mapping; reports a wrong type or unknown fields (with a suggestion) and returns nil
    /// only for a wrong type.
    init?(_ node: Yams.Node, path: String, allowed: [String], what: String, diagnostics: inout Diagnostics) {
        do {
            try self.init(node, at: FileLocation(file: diagnostics.file, field: path), allowed: allowed, what: what)
        } catch {
            diagnostics.add(error)
            return nil
        }
        for problem in problems { diagnostics.add(problem) }
    }

    /// The value of a field that must be there; reports it missing otherwise.
    func required(_ name: String, example: String, diagnostics: inout Diagnostics) -> Yams.Node? {
        reporting(&diagnostics) { () throws(YAMLFieldProblem) in try required(name, example: example) }
    }

    /// A plain-text field (a scalar); reports a wrong type.
    func text(_ name: String, diagnostics: inout Diagnostics, example: String) -> String? {
        reporting(&diagnostics) { () throws(YAMLFieldProblem) in try text(name, example: example) } ?? nil
    }

    /// A list field; reports a wrong type.
    func list(_ name: String, diagnostics: inout Diagnostics, what: String) -> [Yams.Node]? {
        reporting(&diagnostics) { () throws(YAMLFieldProblem) in try list(name, what: what) } ?? nil
    }

    /// A positive whole number.
    func count(_ name: String, diagnostics: inout Diagnostics) -> (value: Int, line: Int)? {
        guard let v = value(name) else { return nil }
        guard let s = v.scalarText, let n = Int(s) else {
            diagnostics.add(
                .wrongType, line: v.line, field: field(name), "expected a whole number, found \(v.quoted)",
                fix: "write a whole number such as 4")
            return nil
        }
        return (n, v.line)
    }

    private func reporting<T>(_ diagnostics: inout Diagnostics, _ read: () throws(YAMLFieldProblem) -> T) -> T? {
        do { return try read() } catch {
            diagnostics.add(error)
            return nil
        }
    }
}

/// The closest of `candidates` to `word` when it is close enough to be a likely typo.
func suggestion(for word: String, among candidates: some Sequence<String>) -> String? {
    NearestName.suggestion(for: word, among: candidates)
}
