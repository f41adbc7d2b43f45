import BenCore
import BenYAML
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
            return .success(try YAMLSyntaxError.composeAll(text).map { try convert($0, file: file) })
        } catch let error as YAMLSyntaxError {
            return .failure(syntaxError(error, file: file))
        } catch let error as IntentError {
            return .failure(error)
        } catch {
            return .failure(IntentError(.yamlSyntax, file: file, line: 0, column: 0, field: "", "not valid YAML: \(error)"))
        }
    }

    static func syntaxError(_ error: YAMLSyntaxError, file: String) -> IntentError {
        switch error.problem {
        case .syntax(let context, let problem):
            let detail = context.map { "\(problem) (\($0))" } ?? problem
            return IntentError(.yamlSyntax, file: file, line: error.line, column: error.column, field: "", "YAML syntax: \(detail)")
        case .duplicateKeys(let duplicates):
            return IntentError(
                .yamlSyntax, file: file, line: error.line, column: error.column, field: "",
                "key \(duplicates.first.map { "\"\($0)\"" } ?? "") appears twice in one mapping; keep one")
        case .unreadable(let problem):
            return IntentError(.yamlSyntax, file: file, line: 0, column: 0, field: "", "YAML: \(problem)")
        case .overBudget(let exceeded):
            return IntentError(.yamlSyntax, file: file, line: error.line, column: error.column, field: "", exceeded.description)
        case .other(let text):
            return IntentError(.yamlSyntax, file: file, line: 0, column: 0, field: "", "YAML: \(text)")
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
