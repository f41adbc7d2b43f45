/// A problem with an intent source or a compiled artifact, in the operator's terms: the file, line and column,
/// the field (`rules[2].when`), what is wrong and what to do. Its description is the line `benctl` prints.
public struct IntentError: Error, Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case yamlSyntax = "yaml_syntax"
        case unknownKey = "unknown_key"
        case missingKey = "missing_key"
        case wrongType = "wrong_type"
        case invalidValue = "invalid_value"
        case duplicateName = "duplicate_name"
        case unknownReference = "unknown_reference"
        case expressionSyntax = "expression_syntax"
        case expressionType = "expression_type"
        case incompatibleChange = "incompatible_change"
        case contractCoverage = "contract_coverage"
        case artifact
    }

    public var code: Code
    /// The source file (as the caller named it), or the artifact name for a compiled artifact.
    public var file: String
    /// 1-based; 0 when the problem concerns the whole file.
    public var line: Int
    public var column: Int
    /// Dotted path of the field within its document, such as `rules[2].when`; empty for the document.
    public var field: String
    public var message: String

    public init(_ code: Code, file: String, line: Int, column: Int, field: String, _ message: String) {
        self.code = code
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
    }

    public var description: String {
        let place = line > 0 ? "\(file):\(line):\(column)" : file
        return field.isEmpty ? "\(place): \(message)" : "\(place): \(field): \(message)"
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.file, a.line, a.column, a.field, a.message) < (b.file, b.line, b.column, b.field, b.message)
    }
}

/// Every problem one run found, sorted by file, line and column, so one build reports them all.
public struct IntentErrors: Error, Sendable, Hashable, CustomStringConvertible {
    public var errors: [IntentError]

    public init(_ errors: [IntentError]) { self.errors = errors.sorted() }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// A place in a source file: the file, a 1-based line and column, and the field path there.
public struct SourceLocation: Sendable, Hashable {
    public var file: String
    public var line: Int
    public var column: Int
    public var field: String

    public init(file: String, line: Int, column: Int, field: String) {
        self.file = file
        self.line = line
        self.column = column
        self.field = field
    }

    func error(_ code: IntentError.Code, _ message: String) -> IntentError {
        IntentError(code, file: file, line: line, column: column, field: field, message)
    }
}
