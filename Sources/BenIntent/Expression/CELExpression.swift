/// A parsed expression: a tree of nodes, each with the byte offset in the source where it starts (for errors
/// that name a column).
public indirect enum CELNode: Sendable {
    case literal(CELValue)
    case identifier(String)
    /// `operand.field`
    case select(CELExpression, String)
    /// `has(operand.field)`
    case presence(CELExpression, String)
    case index(CELExpression, CELExpression)
    case unary(CELUnaryOperator, CELExpression)
    case binary(CELBinaryOperator, CELExpression, CELExpression)
    case conditional(CELExpression, CELExpression, CELExpression)
    /// A function call, global (`size(x)`) or with a receiver (`x.startsWith(y)`).
    case call(String, receiver: CELExpression?, arguments: [CELExpression])
    case list([CELExpression])
    case map([(key: CELExpression, value: CELExpression)])
    /// `range.all(v, body)` and the other macros; `map` with a filter carries two arguments.
    case comprehension(CELMacro, range: CELExpression, variable: String, arguments: [CELExpression])
}

public struct CELExpression: Sendable {
    public var node: CELNode
    /// Byte offset in the expression text.
    public var offset: Int

    public init(_ node: CELNode, at offset: Int) {
        self.node = node
        self.offset = offset
    }
}

public enum CELUnaryOperator: String, Sendable {
    case not = "!"
    case negate = "-"
}

public enum CELBinaryOperator: String, Sendable, CaseIterable {
    case or = "||"
    case and = "&&"
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    case `in` = "in"
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
    case remainder = "%"

    /// Binding strength: higher binds tighter.
    var precedence: Int {
        switch self {
        case .or: 1
        case .and: 2
        case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual, .in: 3
        case .add, .subtract: 4
        case .multiply, .divide, .remainder: 5
        }
    }

    var isComparison: Bool { precedence == 3 && self != .in }
}

public enum CELMacro: String, Sendable, CaseIterable {
    case all
    case exists
    case existsOne = "exists_one"
    case map
    case filter
}
