public import BenCore
import BenTopology
import BenYAML
import Yams

/// A scenario's rollout (issue 17, item 4): the protocol run's last deployment rolls out with this policy, so the
/// report shows the time to full rollout with its bake times, and, when asked, what a canary failure costs (the
/// same run again with every node of the first wave failing to compile).
///
///     rollout:
///       activation: two_phase          # or on_arrival (the default)
///       price_canary_failure: true     # the default
///       policy:                        # a rollout policy, as in a policy file (docs/operations.md)
///         on_failure: rollback
///         waves:
///           - {name: canary, select: {rack_percent: 1}, bake: 30s}
///           - {name: rest}
public struct SimRollout: Sendable, Hashable {
    public var policy: RolloutPolicy
    /// Prepare everywhere, then swap at the ledger's barrier (per wave).
    public var twoPhase: Bool
    public var priceCanaryFailure: Bool

    public init(policy: RolloutPolicy, twoPhase: Bool = false, priceCanaryFailure: Bool = true) {
        self.policy = policy
        self.twoPhase = twoPhase
        self.priceCanaryFailure = priceCanaryFailure
    }
}

extension ScenarioReader {
    func readRollout(_ node: Yams.Node) throws(SimError) -> SimRollout {
        let f = try ScenarioFields(node, file: file, path: "rollout", allowed: ["activation", "price_canary_failure", "policy"], what: "the rollout")
        var twoPhase = false
        if let activation = try f.text("activation", example: "two_phase") {
            guard ["on_arrival", "two_phase"].contains(activation) else {
                throw f.error("activation", "'\(activation)' is not on_arrival or two_phase", fix: "write `activation: two_phase`")
            }
            twoPhase = activation == "two_phase"
        }
        var price = true
        if let text = try f.text("price_canary_failure", example: "true") {
            guard let value = Bool(text) else { throw f.error("price_canary_failure", "'\(text)' is not true or false", fix: "write `price_canary_failure: true`") }
            price = value
        }
        let policyNode = try f.required("policy", example: "{waves: [{name: canary, select: {rack_percent: 1}, bake: 30s}, {name: rest}]}")
        let reading = RolloutPolicy.read(node: policyNode, file: file, path: "rollout.policy")
        if let first = reading.errors.first { throw SimError(first) }
        return SimRollout(policy: reading.policy!, twoPhase: twoPhase, priceCanaryFailure: price)
    }
}

extension SimError {
    /// A problem the policy reader (BenTopology) found, at its line.
    init(_ error: TopologyError) {
        let code: Code =
            switch error.code {
            case .missingField: .missingField
            case .unknownField: .unknownField
            case .wrongType: .wrongType
            case .syntax: .syntax
            default: .invalidValue
            }
        self.init(code, file: error.location.file, line: error.location.line, field: error.location.field, problem: error.problem, fix: error.fix)
    }
}
