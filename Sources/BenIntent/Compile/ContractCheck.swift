import BenCore

/// Checks a migration contract against its two schema versions: every step names fields that exist, values and
/// computed expressions have the target field's type, every required field of the target is covered, no
/// source field is left without a place, and the promised compatibility holds.
enum ContractCheck {
    static func check(
        _ contract: inout ContractDeclaration, source: SchemaDeclaration, target: SchemaDeclaration,
        sourceLayout: RecordLayout, targetLayout: RecordLayout
    ) -> [IntentError] {
        var errors: [IntentError] = []
        let (from, to) = (source.reference, target.reference)
        let targetFields = Dictionary(uniqueKeysWithValues: target.fields.map { ($0.name, $0) })
        // What a migrated record holds after each step: field name → (type, always present, where it came from).
        var current: [String: (type: FieldType, present: Bool)] = [:]
        for f in source.fields { current[f.name] = (f.type, f.alwaysPresent) }
        var dropped: Set<String> = []
        // Fields a computed value reads: dropping those loses nothing, their data moves into the computed field.
        var consumed: Set<String> = []
        for (i, located) in contract.steps.enumerated() {
            let at = located.location
            switch located.step {
            case .rename(let old, let new):
                guard let value = current[old] else {
                    errors.append(at.error(.unknownReference, "rename: \(from) has no field `\(old)` here; fields are \(current.keys.sorted().joined(separator: ", "))"))
                    continue
                }
                guard let declared = targetFields[new] else {
                    errors.append(at.error(.unknownReference, "rename: \(to) has no field `\(new)`"))
                    continue
                }
                if !value.type.sameShape(declared.type) {
                    errors.append(at.error(.wrongType, "rename: `\(old)` is \(value.type) but `\(new)` in \(to) is \(declared.type)"))
                }
                current[old] = nil
                current[new] = value
            case .drop(let field):
                guard current[field] != nil else {
                    errors.append(at.error(.unknownReference, "drop: no field `\(field)` to drop; fields are \(current.keys.sorted().joined(separator: ", "))"))
                    continue
                }
                current[field] = nil
                dropped.insert(field)
            case .setDefault(let field, let value):
                guard let declared = targetFields[field] else {
                    errors.append(at.error(.unknownReference, "default: \(to) has no field `\(field)`"))
                    continue
                }
                if let path = YAMLValues.unsafeInteger(value, path: at.field) {
                    errors.append(IntentError(.invalidValue, file: at.file, line: at.line, column: at.column, field: path,
                        "integers beyond ±2^53 cannot be carried exactly in a bundle; use a smaller value"))
                    continue
                }
                let problems = RecordValidator.check(value, as: declared.type, path: at.field)
                if let p = problems.first {
                    errors.append(IntentError(.wrongType, file: at.file, line: at.line, column: at.column, field: p.path, "default for `\(field)`: \(p.message)"))
                    continue
                }
                current[field] = (declared.type, true)
            case .compute(let field, let expression):
                guard let declared = targetFields[field] else {
                    errors.append(at.error(.unknownReference, "compute: \(to) has no field `\(field)`"))
                    continue
                }
                let expectedType = RecordLayout.celType(declared.type, targetLayout.nested[targetLayout.recordType.field(field)!.slot])
                let exprAt = located.expressionLocation ?? at
                switch ExpressionCheck.compile(expression, variable: IntentCompiler.recordVariable, layout: sourceLayout, at: exprAt, expecting: CELType?.none) {
                case .success(let program):
                    consumed.formUnion(fieldsRead(program.expression))
                    if !program.type.isAssignable(to: expectedType) {
                        errors.append(exprAt.error(.expressionType, "compute: the expression is \(program.type) but `\(field)` in \(to) is \(declared.type)"))
                    }
                    contract.steps[i].step = .compute(field: field, expression: CELPrinter.print(program.expression))
                case .failure(let problems): errors += problems.errors
                }
                current[field] = (declared.type, true)
            }
        }
        var at = contract.location
        at.field = "steps"
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
        if contract.compatibility == .backward || contract.compatibility == .full {
            for f in source.fields where f.alwaysPresent && dropped.contains(f.name) && !consumed.contains(f.name) {
                errors.append(at.error(.incompatibleChange, "the contract promises \(contract.compatibility) compatibility but drops required field `\(f.name)` of \(from) without using it; rename it or compute a field from it, or promise forward or none"))
            }
        }
        return errors
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
