import BenCore

/// Checks a migration contract against its two schema versions: every step names fields that exist, values and
/// computed expressions have the target field's type, every required field of the target is covered, no
/// source field is left without a place, and the promised compatibility holds.
enum ContractCheck {
    /// Follows the steps in order (what a migrated record holds after each), then checks the result: coverage of
    /// the target, fields left without a place, and the promised compatibility.
    static func check(
        _ contract: inout ContractDeclaration, source: SchemaDeclaration, target: SchemaDeclaration,
        sourceLayout: RecordLayout, targetLayout: RecordLayout
    ) -> [IntentError] {
        var run = ContractRun(source: source, target: target, sourceLayout: sourceLayout, targetLayout: targetLayout)
        for i in contract.steps.indices {
            if let rewritten = run.apply(contract.steps[i]) { contract.steps[i].step = rewritten }
        }
        var at = contract.location
        at.field = "steps"
        run.checkCoverage(at: at)
        run.checkCompatibility(contract.compatibility, at: at)
        return run.errors
    }

    /// The top-level fields of `record` an expression reads.
    static func fieldsRead(_ e: CELExpression) -> Set<String> {
        var out: Set<String> = []
        func walk(_ e: CELExpression) {
            switch e.node {
            case .select(let operand, let field), .presence(let operand, let field):
                if case .identifier(IntentCompiler.recordVariable) = operand.node { out.insert(field) } else { walk(operand) }
            case .literal, .identifier: break
            case .index(let a, let b), .binary(_, let a, let b):
                walk(a)
                walk(b)
            case .unary(_, let a): walk(a)
            case .conditional(let a, let b, let c):
                walk(a)
                walk(b)
                walk(c)
            case .call(_, let receiver, let arguments):
                receiver.map(walk)
                arguments.forEach(walk)
            case .list(let items): items.forEach(walk)
            case .map(let entries): entries.forEach { walk($0.key); walk($0.value) }
            case .comprehension(_, let range, _, let arguments):
                walk(range)
                arguments.forEach(walk)
            }
        }
        walk(e)
        return out
    }
}

/// One `ContractCheck.check`: what a migrated record holds after each step, and the problems found.
struct ContractRun {
    let source: SchemaDeclaration
    let target: SchemaDeclaration
    let sourceLayout: RecordLayout
    let targetLayout: RecordLayout
    let from: SchemaReference
    let to: SchemaReference
    let targetFields: [String: FieldDeclaration]
    var errors: [IntentError] = []
    /// What a migrated record holds after each step: field name → (type, always present).
    var current: [String: (type: FieldType, present: Bool)] = [:]
    var dropped: Set<String> = []
    /// Fields a computed value reads: dropping those loses nothing, their data moves into the computed field.
    var consumed: Set<String> = []

    init(source: SchemaDeclaration, target: SchemaDeclaration, sourceLayout: RecordLayout, targetLayout: RecordLayout) {
        self.source = source
        self.target = target
        self.sourceLayout = sourceLayout
        self.targetLayout = targetLayout
        (from, to) = (source.reference, target.reference)
        targetFields = Dictionary(uniqueKeysWithValues: target.fields.map { ($0.name, $0) })
        for f in source.fields { current[f.name] = (f.type, f.alwaysPresent) }
    }

    /// Applies one step; returns the step as the artifact keeps it when it changes (a compute step's canonical text).
    mutating func apply(_ located: LocatedStep) -> MigrationStep? {
        let at = located.location
        switch located.step {
        case .rename(let old, let new): rename(old, to: new, at: at)
        case .drop(let field): drop(field, at: at)
        case .setDefault(let field, let value): setDefault(field, value, at: at)
        case .compute(let field, let expression): return compute(field, expression, at: located.expressionLocation ?? at, stepAt: at)
        }
        return nil
    }

    mutating func rename(_ old: String, to new: String, at: FileLocation) {
        guard let value = current[old] else {
            errors.append(at.error(.unknownReference, "rename: \(from) has no field `\(old)` here; fields are \(current.keys.sorted().joined(separator: ", "))"))
            return
        }
        guard let declared = targetFields[new] else {
            errors.append(at.error(.unknownReference, "rename: \(to) has no field `\(new)`"))
            return
        }
        if !value.type.sameShape(declared.type) {
            errors.append(at.error(.wrongType, "rename: `\(old)` is \(value.type) but `\(new)` in \(to) is \(declared.type)"))
        }
        current[old] = nil
        current[new] = value
    }

    mutating func drop(_ field: String, at: FileLocation) {
        guard current[field] != nil else {
            errors.append(at.error(.unknownReference, "drop: no field `\(field)` to drop; fields are \(current.keys.sorted().joined(separator: ", "))"))
            return
        }
        current[field] = nil
        dropped.insert(field)
    }

    mutating func setDefault(_ field: String, _ value: JSONValue, at: FileLocation) {
        guard let declared = targetFields[field] else {
            errors.append(at.error(.unknownReference, "default: \(to) has no field `\(field)`"))
            return
        }
        if let problem = YAMLValues.problem(value, as: declared.type, at: at, prefix: "default for `\(field)`: ") {
            errors.append(problem)
            return
        }
        current[field] = (declared.type, true)
    }

    mutating func compute(_ field: String, _ expression: String, at exprAt: FileLocation, stepAt at: FileLocation) -> MigrationStep? {
        guard let declared = targetFields[field] else {
            errors.append(at.error(.unknownReference, "compute: \(to) has no field `\(field)`"))
            return nil
        }
        let expectedType = RecordLayout.celType(declared.type, targetLayout.nested[targetLayout.recordType.field(field)!.slot])
        var rewritten: MigrationStep?
        switch ExpressionCheck.compile(expression, variable: IntentCompiler.recordVariable, layout: sourceLayout, at: exprAt, expecting: CELType?.none) {
        case .success(let program):
            consumed.formUnion(ContractCheck.fieldsRead(program.expression))
            if !program.type.isAssignable(to: expectedType) {
                errors.append(exprAt.error(.expressionType, "compute: the expression is \(program.type) but `\(field)` in \(to) is \(declared.type)"))
            }
            rewritten = .compute(field: field, expression: CELPrinter.print(program.expression))
        case .failure(let problems): errors += problems.errors
        }
        current[field] = (declared.type, true)
        return rewritten
    }

    /// Every field of the target is provided with its type (and always, when required); every field left has a place.
    mutating func checkCoverage(at: FileLocation) {
        for field in target.fields {
            guard let have = current[field.name] else {
                if field.required {
                    errors.append(at.error(.contractCoverage, "\(to) requires `\(field.name)` and this contract does not provide it; add a rename, default or compute step for it"))
                }
                continue
            }
            if !have.type.sameShape(field.type) {
                errors.append(at.error(.contractCoverage, "`\(field.name)` is \(have.type) after migration but \(field.type) in \(to); add a compute step that converts it"))
            } else if field.required && !have.present {
                errors.append(at.error(.contractCoverage, "\(to) requires `\(field.name)` but it may be absent in \(from); add a default step for it"))
            }
        }
        for name in current.keys.sorted() where targetFields[name] == nil {
            errors.append(at.error(.contractCoverage, "`\(name)` of \(from) has no place in \(to); drop it or rename it"))
        }
    }

    /// Backward (or full) compatibility: no required source field is dropped unless a computed field uses it.
    mutating func checkCompatibility(_ compatibility: CompatibilityMode, at: FileLocation) {
        guard compatibility == .backward || compatibility == .full else { return }
        for f in source.fields where f.alwaysPresent && dropped.contains(f.name) && !consumed.contains(f.name) {
            errors.append(at.error(.incompatibleChange, "the contract promises \(compatibility) compatibility but drops required field `\(f.name)` of \(from) without using it; rename it or compute a field from it, or promise forward or none"))
        }
    }
}
