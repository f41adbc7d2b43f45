/// One compiled step of an expression: reads the frame, returns a value or throws the CEL error it produced.
typealias CELEval = @Sendable (inout CELFrame) throws(EvaluationError) -> CELValue

/// The variables and the remaining budget of one evaluation.
///
/// A frame is made once per evaluation (or once per request across all rules of a pack) and passed by
/// reference, so evaluating allocates nothing beyond the values the expression builds.
public struct CELFrame: Sendable {
    /// Declared variables first, in declaration order, then one slot per macro variable. Set them with
    /// `set(_:slot:)` or `bind(_:)`.
    public internal(set) var slots: [CELValue]
    /// Units of work left; each macro iteration costs one, string and list operations cost by size.
    public var budget: Int
    /// The fields of the record in slot 0, laid out by `rootShape`, so `request.port` reads one array
    /// element instead of unpacking the record on every access. Kept in step by `bind(_:)`.
    var rootShape: CELRecordShape?
    var rootFields: [CELValue?] = []

    public init(slotCount: Int, budget: Int) {
        slots = [CELValue](repeating: .null, count: max(slotCount, 1))
        self.budget = budget
    }

    /// Puts a declared variable's value in its slot (declaration order).
    public mutating func set(_ value: CELValue, slot: Int) {
        if slot == 0 { bind(value) } else { slots[slot] = value }
    }

    /// Puts `value` in slot 0, the record an expression is about.
    public mutating func bind(_ value: CELValue) {
        slots[0] = value
        if case .record(let r) = value {
            rootShape = r.shape
            rootFields = r.values
        } else {
            rootShape = nil
            rootFields = []
        }
    }

    @inline(__always)
    mutating func charge(_ units: Int) throws(EvaluationError) {
        budget -= units
        if budget < 0 {
            throw EvaluationError(.budgetExceeded, "evaluation budget exhausted; the expression does too much work for one request")
        }
    }
}

/// The names an expression may use, with their types, and whether expressions are type-checked.
public struct CELEnvironment: Sendable {
    public struct Variable: Sendable {
        public var name: String
        public var type: CELType

        public init(_ name: String, _ type: CELType) {
            self.name = name
            self.type = type
        }
    }

    public var variables: [Variable]
    /// When false (only cel-spec's disable_check cases), type errors surface at evaluation instead.
    public var checked: Bool

    public init(variables: [Variable], checked: Bool = true) {
        self.variables = variables
        self.checked = checked
    }
}

/// A problem found while compiling an expression, at a byte offset of its text.
public struct CELDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public var offset: Int
    public var message: String

    public var description: String { message }
}

/// A compiled expression: immutable, shareable across threads, evaluated any number of times.
public struct CELProgram: Sendable {
    /// Default work budget for one evaluation: generous for real policies, small enough that a hostile
    /// expression stops within milliseconds.
    public static let defaultBudget = 100_000

    public let expression: CELExpression
    public let type: CELType
    /// Frame slots this program needs (declared variables plus macro variables).
    public let slotCount: Int
    let root: CELEval

    /// Parses, checks and compiles `text`. Throws every problem found, each with its offset.
    public static func compile(_ text: String, environment: CELEnvironment) throws(CELCompileFailure) -> CELProgram {
        let expression: CELExpression
        do {
            expression = try CELParser.parse(text)
        } catch {
            throw CELCompileFailure(diagnostics: [CELDiagnostic(offset: error.offset, message: error.message)])
        }
        return try compile(expression, environment: environment)
    }

    public static func compile(_ expression: CELExpression, environment: CELEnvironment) throws(CELCompileFailure)
        -> CELProgram
    {
        var compiler = CELCompiler(environment: environment)
        let (type, root) = compiler.compile(expression)
        guard compiler.diagnostics.isEmpty else { throw CELCompileFailure(diagnostics: compiler.diagnostics) }
        return CELProgram(expression: expression, type: type, slotCount: compiler.maxSlot, root: root)
    }

    /// Evaluates with `variables` in declaration order.
    public func evaluate(_ variables: [CELValue], budget: Int = CELProgram.defaultBudget) -> Result<CELValue, EvaluationError> {
        var frame = CELFrame(slotCount: slotCount, budget: budget)
        for (i, v) in variables.enumerated() where i < frame.slots.count { frame.slots[i] = v }
        if let first = variables.first { frame.bind(first) }
        do {
            return .success(try root(&frame))
        } catch {
            return .failure(error)
        }
    }

    /// Evaluates in a frame the caller prepared (and may reuse across programs of the same environment).
    @inline(__always)
    public func evaluate(in frame: inout CELFrame) throws(EvaluationError) -> CELValue {
        try root(&frame)
    }
}

/// Every problem that kept an expression from compiling.
public struct CELCompileFailure: Error, Sendable, Hashable {
    public var diagnostics: [CELDiagnostic]
}
