public import BenCore

/// A migration contract ready to run: computed fields compiled against the source version.
public struct CompiledContract: Sendable {
    enum Step: Sendable {
        case rename(String, String)
        case setDefault(String, JSONValue)
        case drop(String)
        case compute(String, CELProgram)
    }

    public let name: String
    public let schema: String
    public let from: Int
    public let to: Int
    public let compatibility: CompatibilityMode
    let steps: [Step]
    let source: RecordLayout
    let target: RecordLayout

    public init(_ contract: ContractDeclaration, source: RecordLayout, target: RecordLayout) throws(IntentErrors) {
        var steps: [Step] = []
        var errors: [IntentError] = []
        for located in contract.steps {
            switch located.step {
            case .rename(let a, let b): steps.append(.rename(a, b))
            case .setDefault(let f, let v): steps.append(.setDefault(f, v))
            case .drop(let f): steps.append(.drop(f))
            case .compute(let f, let text):
                switch ExpressionCheck.compile(text, variable: IntentCompiler.recordVariable, layout: source, at: located.expressionLocation ?? located.location, expecting: nil) {
                case .success(let program): steps.append(.compute(f, program))
                case .failure(let e): errors += e.errors
                }
            }
        }
        guard errors.isEmpty else { throw IntentErrors(errors) }
        self.name = contract.name
        self.schema = contract.schema
        self.from = contract.from
        self.to = contract.to
        self.compatibility = contract.compatibility
        self.steps = steps
        self.source = source
        self.target = target
    }

    /// Migrates one record of `from` to `to`. The input is validated against the source version first, the
    /// output against the target version, so what comes out is a valid record of the target.
    public func migrate(_ record: JSONValue, budget: Int) -> Result<JSONValue, MigrationFailure> {
        let validated: CELValue
        switch source.record(from: record) {
        case .success(let v): validated = v
        case .failure(let p): return .failure(MigrationFailure(contract: name, reason: "the record is not a valid \(schema)@\(from): \(p)"))
        }
        guard case .object(var fields) = RecordValidator.json(validated) else {
            return .failure(MigrationFailure(contract: name, reason: "the record is not an object"))
        }
        for step in steps {
            switch step {
            case .rename(let a, let b):
                if let v = fields.removeValue(forKey: a) { fields[b] = v }
            case .setDefault(let f, let v):
                if fields[f] == nil || fields[f] == .null { fields[f] = v }
            case .drop(let f):
                fields[f] = nil
            case .compute(let f, let program):
                switch program.evaluate([validated], budget: budget) {
                case .success(let v): fields[f] = RecordValidator.json(v)
                case .failure(let e):
                    return .failure(MigrationFailure(contract: name, reason: "computing `\(f)` failed: \(e.message)"))
                }
            }
        }
        let out = JSONValue.object(fields)
        switch target.record(from: out) {
        case .success(let v): return .success(RecordValidator.json(v))
        case .failure(let p):
            return .failure(MigrationFailure(contract: name, reason: "the migrated record is not a valid \(schema)@\(to): \(p)"))
        }
    }
}

/// Why a record could not be migrated.
public struct MigrationFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var contract: String
    public var reason: String
    public var description: String { contract.isEmpty ? reason : "contract \(contract): \(reason)" }
}
