public import BenCore

/// A policy pack ready to evaluate: every rule's condition compiled once, against the pack's input schema.
public struct CompiledPolicyPack: Sendable {
    public struct Rule: Sendable {
        public let name: String
        public let action: PolicyAction
        public let condition: CELProgram
    }

    public let name: String
    public let roles: [Role]
    public let input: SchemaReference
    public let layout: RecordLayout
    public let onError: ErrorPolicy
    public let rules: [Rule]
    public let defaultAction: PolicyAction
    let slotCount: Int
    /// The rules' compiled conditions, apart, so the evaluation loop touches nothing else per rule.
    let conditions: [CELEval]

    /// Compiles a decoded pack against the layout of its input schema.
    public init(_ pack: PolicyPackDeclaration, layout: RecordLayout) throws(IntentErrors) {
        var rules: [Rule] = []
        var errors: [IntentError] = []
        for rule in pack.rules {
            switch ExpressionCheck.compile(rule.when, variable: IntentCompiler.requestVariable, layout: layout, at: rule.whenLocation, expecting: CELType.bool) {
            case .success(let program): rules.append(Rule(name: rule.name, action: rule.action, condition: program))
            case .failure(let e): errors += e.errors
            }
        }
        guard errors.isEmpty else { throw IntentErrors(errors) }
        self.name = pack.name
        self.roles = pack.roles
        self.input = pack.input
        self.layout = layout
        self.onError = pack.onError
        self.rules = rules
        self.defaultAction = pack.defaultAction
        self.slotCount = rules.map(\.condition.slotCount).max() ?? 1
        self.conditions = rules.map(\.condition.root)
    }

    /// Evaluates the rules in order against a record already validated against `layout`.
    ///
    /// A `tag` rule adds its tag and evaluation goes on; the first matching allow, deny or route decides; when
    /// none matches, the default decides. A rule whose condition errors denies the request (`on_error: deny`)
    /// or is passed over (`on_error: skip`); either way the error is in the decision.
    public func evaluate(record: CELValue, budget: Int) -> PackDecision {
        var frame = CELFrame(slotCount: slotCount, budget: budget)
        frame.bind(record)
        var tags: [String] = []
        var errors: [RuleError] = []
        for index in conditions.indices {
            frame.budget = budget
            do {
                let v = try conditions[index](&frame)
                guard case .bool(true) = v else { continue }
                let rule = rules[index]
                if case .tag(let tag) = rule.action {
                    if !tags.contains(tag) { tags.append(tag) }
                    continue
                }
                return PackDecision(pack: name, action: rule.action, rule: rule.name, ruleIndex: index, tags: tags, errors: errors)
            } catch {
                let rule = rules[index]
                errors.append(RuleError(rule: rule.name, error: error))
                if onError == .deny {
                    return PackDecision(pack: name, action: .deny, rule: rule.name, ruleIndex: index, tags: tags, errors: errors)
                }
            }
        }
        return PackDecision(pack: name, action: defaultAction, rule: nil, ruleIndex: nil, tags: tags, errors: errors)
    }
}

/// A rule whose condition produced an error instead of true or false.
public struct RuleError: Sendable, Hashable, CustomStringConvertible {
    public var rule: String
    public var error: EvaluationError
    public var description: String { "rule \(rule): \(error.message)" }
}

/// What one pack decided and why.
public struct PackDecision: Sendable, Hashable {
    public var pack: String
    /// allow, deny or route (never tag).
    public var action: PolicyAction
    /// The rule that decided; nil when the pack's default did.
    public var rule: String?
    public var ruleIndex: Int?
    public var tags: [String]
    public var errors: [RuleError]
}
