/// BenIntent's settings, loaded by the shell (agent flags or file) and passed in.
public struct IntentSettings: Sendable, Hashable {
    /// Work units one evaluation of one expression may spend (each macro iteration costs one, string and
    /// list operations cost by size). 100 000 lets real policies run and stops a hostile one within
    /// milliseconds; the rule that ran out is reported as an error, not a match.
    public var evaluationBudget: Int

    public init(evaluationBudget: Int = 100_000) {
        self.evaluationBudget = evaluationBudget
    }
}
