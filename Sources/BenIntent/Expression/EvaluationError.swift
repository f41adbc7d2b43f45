/// Why an expression produced no value. In CEL an error is a value that flows through the expression: `&&`,
/// `||` and `?:` absorb it when the other side decides the result, so this is returned in results (a rule
/// that errored), not thrown at the caller of a role runtime.
public struct EvaluationError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case noSuchOverload = "no_such_overload"
        case noSuchKey = "no_such_key"
        case noSuchField = "no_such_field"
        case divisionByZero = "division_by_zero"
        case moduloByZero = "modulo_by_zero"
        case overflow
        case outOfRange = "out_of_range"
        case invalidArgument = "invalid_argument"
        case unboundVariable = "unbound_variable"
        case unknownFunction = "unknown_function"
        case budgetExceeded = "budget_exceeded"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func overload(_ function: String, _ operands: CELValue...) -> EvaluationError {
        EvaluationError(
            .noSuchOverload,
            "no such overload: \(function) is not defined for (\(operands.map { $0.typeName.name }.joined(separator: ", ")))")
    }
}
