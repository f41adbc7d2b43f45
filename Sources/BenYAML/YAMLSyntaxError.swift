public import BenCore
public import Yams

/// Why a text is not YAML, and where: what Yams reported, in one value every reader phrases in its own error type.
/// Its place is a `FileLocation` (line and column; the reader knows the file), read as `error.line`.
public struct YAMLSyntaxError: Error, Sendable, FileLocated {
    public enum Problem: Sendable {
        /// The scanner, parser or composer stopped: what it was reading (`context`) and what it found.
        case syntax(context: String?, problem: String)
        /// A mapping writes these keys more than once.
        case duplicateKeys([String])
        /// The bytes are not text (not UTF-8).
        case unreadable(String)
        /// The text goes beyond `YAMLBudget`: an alias bomb, nesting too deep, a key that is not a scalar.
        case overBudget(YAMLBudget.Exceeded)
        /// Anything else Yams or the system reported.
        case other(String)
    }

    public var problem: Problem
    /// The line and column, 1-based; 0 when Yams gave no position.
    public var location: FileLocation
    /// What Yams said, whole.
    public var text: String

    /// What Yams threw.
    public init(_ error: any Error) {
        location = FileLocation()
        text = "\(error)"
        guard let yaml = error as? YamlError else {
            problem = .other("\(error)")
            return
        }
        switch yaml {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            self.problem = .syntax(context: context?.text, problem: problem)
            location = FileLocation(line: mark.line, column: mark.column)
        case .duplicatedKeysInMapping(let duplicates, let context):
            problem = .duplicateKeys(duplicates)
            location = FileLocation(line: context.mark.line, column: context.mark.column)
        case .reader(let problem, _, _, _):
            self.problem = .unreadable(problem)
        default:
            problem = .other("\(yaml)")
        }
    }

    /// A text that goes beyond `YAMLBudget`, at the node where it did.
    public init(_ exceeded: YAMLBudget.Exceeded, line: Int, column: Int) {
        problem = .overBudget(exceeded)
        location = FileLocation(line: line, column: column)
        text = exceeded.description
    }

    /// The root of a one-document text, within `YAMLBudget.standard`; nil for an empty text. This (or
    /// `composeAll`) is how every reader of Ben's YAML files reads a text.
    ///
    /// - Parameter resolver: `.basic` leaves every scalar as text, for readers that decide what each field means.
    public static func compose(_ text: String, resolver: Resolver = .default) throws(YAMLSyntaxError) -> Yams.Node? {
        try YAMLBudget.standard.compose(text, resolver: resolver)
    }

    /// Every document of a text, in order, within `YAMLBudget.standard` (one budget for the whole text).
    public static func composeAll(_ text: String) throws(YAMLSyntaxError) -> [Yams.Node] {
        try YAMLBudget.standard.composeAll(text)
    }
}
