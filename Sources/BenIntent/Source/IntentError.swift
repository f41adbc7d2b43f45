public import BenCore

/// A problem with an intent source or a compiled artifact, in the operator's terms: the file, line and column,
/// the field (`rules[2].when`), what is wrong and what to do. Its description is the line `benctl` prints.
public struct IntentError: Error, Sendable, Hashable, Comparable, CustomStringConvertible, FileLocated {
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
    /// Where: the source file (as the caller named it, or the artifact name for a compiled artifact), the 1-based
    /// line and column (line 0 when the problem concerns the whole file), and the dotted path of the field within
    /// its document, such as `rules[2].when` (empty for the document).
    public var location: FileLocation
    public var message: String

    public init(_ code: Code, file: String, line: Int, column: Int, field: String, _ message: String) {
        self.init(code, at: FileLocation(file: file, line: line, column: column, field: field), message)
    }

    public init(_ code: Code, at location: FileLocation, _ message: String) {
        self.code = code
        self.location = location
        self.message = message
    }


    public var description: String { location.describe(message) }

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

extension FileLocation {
    func error(_ code: IntentError.Code, _ message: String) -> IntentError {
        IntentError(code, at: self, message)
    }
}
