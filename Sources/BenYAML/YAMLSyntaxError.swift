public import Yams

/// Why a text is not YAML, and where: what Yams reported, in one value every reader phrases in its own error type.
public struct YAMLSyntaxError: Error, Sendable {
    public enum Problem: Sendable {
        /// The scanner, parser or composer stopped: what it was reading (`context`) and what it found.
        case syntax(context: String?, problem: String)
        /// A mapping writes these keys more than once.
        case duplicateKeys([String])
        /// The bytes are not text (not UTF-8).
        case unreadable(String)
        /// Anything else Yams or the system reported.
        case other(String)
    }

    public var problem: Problem
    /// 1-based; 0 when Yams gave no position.
    public var line: Int
    public var column: Int
    /// What Yams said, whole.
    public var text: String

    /// What Yams threw.
    public init(_ error: any Error) {
        (line, column) = (0, 0)
        text = "\(error)"
        guard let yaml = error as? YamlError else {
            problem = .other("\(error)")
            return
        }
        switch yaml {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            self.problem = .syntax(context: context?.text, problem: problem)
            (line, column) = (mark.line, mark.column)
        case .duplicatedKeysInMapping(let duplicates, let context):
            problem = .duplicateKeys(duplicates)
            (line, column) = (context.mark.line, context.mark.column)
        case .reader(let problem, _, _, _):
            self.problem = .unreadable(problem)
        default:
            problem = .other("\(yaml)")
        }
    }

    /// The root of a one-document text; nil for an empty text.
    ///
    /// - Parameter resolver: `.basic` leaves every scalar as text, for readers that decide what each field means.
    public static func compose(_ text: String, resolver: Resolver = .default) throws(YAMLSyntaxError) -> Yams.Node? {
        do {
            return try Yams.compose(yaml: text, resolver)
        } catch {
            throw YAMLSyntaxError(error)
        }
    }

    /// Every document of a text, in order.
    public static func composeAll(_ text: String) throws(YAMLSyntaxError) -> [Yams.Node] {
        do {
            // compose_all's sequence stops at a parse error and keeps it for the caller to check.
            var sequence = try Yams.compose_all(yaml: text)
            var out: [Yams.Node] = []
            while let node = sequence.next() { out.append(node) }
            if let error = sequence.error { throw YAMLSyntaxError(error) }
            return out
        } catch let error as YAMLSyntaxError {
            throw error
        } catch {
            throw YAMLSyntaxError(error)
        }
    }
}
