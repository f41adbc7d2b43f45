import Yams

/// A YAML node with its position, as the intent reader needs it: scalars keep their text (Ben, not YAML's
/// implicit typing, decides what `no` or `08` means for each field), mappings keep every key in order so
/// duplicates and unknown keys can be named.
enum ScalarStyle: Sendable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

indirect enum YAMLTree: Sendable {
    case scalar(String, style: ScalarStyle, line: Int, column: Int)
    case mapping([(key: YAMLTree, value: YAMLTree)], line: Int, column: Int)
    case sequence([YAMLTree], line: Int, column: Int)

    var line: Int {
        switch self {
        case .scalar(_, _, let l, _), .mapping(_, let l, _), .sequence(_, let l, _): l
        }
    }

    var column: Int {
        switch self {
        case .scalar(_, _, _, let c), .mapping(_, _, let c), .sequence(_, _, let c): c
        }
    }

    var kindName: String {
        switch self {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }

    var scalarText: String? {
        if case .scalar(let s, _, _, _) = self { return s }
        return nil
    }

    /// Parses every document of a file. A syntax error becomes one `IntentError` with its position.
    static func documents(_ text: String, file: String) -> Result<[YAMLTree], IntentError> {
        do {
            var out: [YAMLTree] = []
            // compose_all's sequence stops at a parse error and keeps it for the caller to check.
            var sequence = try Yams.compose_all(yaml: text)
            while let node = sequence.next() {
                out.append(try convert(node, file: file))
            }
            if let error = sequence.error { return .failure(syntaxError(error, file: file)) }
            return .success(out)
        } catch let error as IntentError {
            return .failure(error)
        } catch {
            return .failure(syntaxError(error, file: file))
        }
    }

    static func syntaxError(_ error: any Error, file: String) -> IntentError {
        guard let yaml = error as? YamlError else {
            return IntentError(.yamlSyntax, file: file, line: 0, column: 0, field: "", "not valid YAML: \(error)")
        }
        switch yaml {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { "\(problem) (\($0.text))" } ?? problem
            return IntentError(.yamlSyntax, file: file, line: mark.line, column: mark.column, field: "", "YAML syntax: \(detail)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return IntentError(
                .yamlSyntax, file: file, line: context.mark.line, column: context.mark.column, field: "",
                "key \(duplicates.first.map { "\"\($0)\"" } ?? "") appears twice in one mapping; keep one")
        case .reader(let problem, _, _, _):
            return IntentError(.yamlSyntax, file: file, line: 0, column: 0, field: "", "YAML: \(problem)")
        default:
            return IntentError(.yamlSyntax, file: file, line: 0, column: 0, field: "", "YAML: \(yaml)")
        }
    }

    static func convert(_ node: Node, file: String) throws -> YAMLTree {
        let mark = (line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
        switch node {
        case .scalar(let s):
            let style: ScalarStyle
            switch s.style {
            case .singleQuoted: style = .singleQuoted
            case .doubleQuoted: style = .doubleQuoted
            case .literal: style = .literal
            case .folded: style = .folded
            default: style = .plain
            }
            return .scalar(s.string, style: style, line: mark.line, column: mark.column)
        case .mapping(let m):
            var pairs: [(key: YAMLTree, value: YAMLTree)] = []
            for (k, v) in m { pairs.append((try convert(k, file: file), try convert(v, file: file))) }
            return .mapping(pairs, line: mark.line, column: mark.column)
        case .sequence(let s):
            return .sequence(try s.map { try convert($0, file: file) }, line: mark.line, column: mark.column)
        case .alias:
            throw IntentError(.yamlSyntax, file: file, line: mark.line, column: mark.column, field: "",
                "YAML aliases (*name) are not supported in intent files; repeat the value")
        }
    }
}
