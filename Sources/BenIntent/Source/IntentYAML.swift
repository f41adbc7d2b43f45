import BenCore
import BenYAML
import Yams

/// Intent files are read as BenYAML composes them (within its budget), as Yams nodes with their positions; their
/// mappings through BenYAML's field reader (`MappingReader`). Scalars keep their text: Ben, not YAML's implicit
/// typing, decides what `no` or `08` means for each field.
enum IntentYAML {
    /// Parses every document of a file. A syntax error becomes one `IntentError` with its position.
    static func documents(_ text: String, file: String) -> Result<[Yams.Node], IntentError> {
        do {
            return .success(try YAMLSyntaxError.composeAll(text))
        } catch {
            return .failure(syntaxError(error, file: file))
        }
    }

    static func syntaxError(_ error: YAMLSyntaxError, file: String) -> IntentError {
        var at = error.location
        at.file = file
        let message: String
        switch error.problem {
        case .syntax(let context, let problem):
            message = "YAML syntax: " + (context.map { "\(problem) (\($0))" } ?? problem)
        case .duplicateKeys(let duplicates):
            message = "key \(duplicates.first.map { "\"\($0)\"" } ?? "") appears twice in one mapping; keep one"
        case .unreadable(let problem):
            message = "YAML: \(problem)"
        case .overBudget(let exceeded):
            message = exceeded.description
        case .other(let text):
            message = "YAML: \(text)"
        }
        return IntentError(.yamlSyntax, at: at, message)
    }
}

/// How a scalar is written, as the intent reader distinguishes it (a quoted number is a string; an expression's
/// first character moves past a quote or to the line after a block indicator).
enum ScalarStyle: Sendable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

extension Yams.Node {
    /// What the intent reader's errors call this node: "a scalar", "a mapping", "a list".
    var kindName: String {
        switch self {
        case .scalar, .alias: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }

    /// The scalar's text as written (`~` and `null` included: each field decides what they mean), or nil.
    var scalarString: String? {
        if case .scalar(let scalar) = self { return scalar.string }
        return nil
    }

    /// How the scalar is written, or nil for a mapping or a list.
    var scalarStyle: ScalarStyle? {
        guard case .scalar(let scalar) = self else { return nil }
        switch scalar.style {
        case .singleQuoted: return .singleQuoted
        case .doubleQuoted: return .doubleQuoted
        case .literal: return .literal
        case .folded: return .folded
        case .plain, .any: return .plain
        }
    }

    /// The pairs of a mapping, in the order written, or nil.
    var pairs: [(key: Yams.Node, value: Yams.Node)]? {
        guard case .mapping(let mapping) = self else { return nil }
        return mapping.map { ($0.key, $0.value) }
    }

    /// The items of a list, or nil.
    var items: [Yams.Node]? {
        guard case .sequence(let sequence) = self else { return nil }
        return Array(sequence)
    }
}
