import BenCore

/// A detector rule set ready to run: each rule's condition compiled against the event schema.
public struct CompiledRuleSet: Sendable {
    public struct Rule: Sendable {
        public let name: String
        public let severity: Severity
        public let message: String
        public let condition: CELProgram
    }

    public let name: String
    public let event: SchemaReference
    public let layout: RecordLayout
    public let rules: [Rule]
    let slotCount: Int

    public init(_ set: RuleSetDeclaration, layout: RecordLayout) throws(IntentErrors) {
        var rules: [Rule] = []
        var errors: [IntentError] = []
        for rule in set.rules {
            switch ExpressionCheck.compile(rule.when, variable: IntentCompiler.eventVariable, layout: layout, at: rule.whenLocation, expecting: CELType.bool) {
            case .success(let program):
                rules.append(Rule(name: rule.name, severity: rule.severity, message: rule.message, condition: program))
            case .failure(let e): errors += e.errors
            }
        }
        guard errors.isEmpty else { throw IntentErrors(errors) }
        self.name = set.name
        self.event = set.event
        self.layout = layout
        self.rules = rules
        self.slotCount = rules.map(\.condition.slotCount).max() ?? 1
    }

    /// Every rule that matches the event raises an alert; rules that error are reported, not raised.
    public func inspect(event: CELValue, budget: Int) -> (alerts: [Alert], errors: [RuleError]) {
        var frame = CELFrame(slotCount: slotCount, budget: budget)
        frame.bind(event)
        var alerts: [Alert] = []
        var errors: [RuleError] = []
        for rule in rules {
            frame.budget = budget
            do {
                if case .bool(true) = try rule.condition.evaluate(in: &frame) {
                    alerts.append(Alert(ruleSet: name, rule: rule.name, severity: rule.severity, message: rule.message))
                }
            } catch {
                errors.append(RuleError(rule: rule.name, error: error))
            }
        }
        return (alerts, errors)
    }
}

/// An alert a detector raises.
public struct Alert: Sendable, Hashable {
    public var ruleSet: String
    public var rule: String
    public var severity: Severity
    public var message: String
}
