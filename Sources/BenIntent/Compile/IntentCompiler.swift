public import BenCore

/// One compiled unit of a bundle: its manifest name, kind and roles, and its canonical bytes.
public struct CompiledArtifact: Sendable, Hashable {
    public var name: String
    public var kind: ArtifactKind
    public var roles: [Role]
    public var bytes: [UInt8]
}

/// What `benctl build` turns an intent source into, before it is chunked and stored.
public struct CompiledBundle: Sendable, Hashable {
    /// Sorted by name.
    public var artifacts: [CompiledArtifact]
}

/// Validates an intent source and compiles it into canonical artifacts. Pure: it reads nothing and writes
/// nothing; the caller hands it the files' paths and texts.
public enum IntentCompiler {
    /// The name each artifact kind binds its record to in expressions.
    public static let requestVariable = "request"
    public static let eventVariable = "event"
    public static let recordVariable = "record"

    public static func build(_ files: [IntentSourceFile]) -> Result<CompiledBundle, IntentErrors> {
        var reader = IntentReader()
        for file in files.sorted(by: { $0.path < $1.path }) { reader.read(file) }
        var errors = reader.errors
        let d = reader.declarations
        if files.isEmpty {
            errors.append(IntentError(.missingKey, file: ".", line: 0, column: 0, field: "", "no intent files (*.yaml, *.yml) found"))
        }

        // Schemas: unique name@version, evolution per name in version order.
        var schemas: [SchemaReference: SchemaDeclaration] = [:]
        for s in d.schemas {
            if let first = schemas[s.reference] {
                errors.append(s.versionLocation.error(.duplicateName, "\(s.reference) is already declared at \(first.location.file):\(first.location.line); give this one a new version"))
            } else {
                schemas[s.reference] = s
            }
        }
        let byName = Dictionary(grouping: schemas.values, by: \.name)
        for (_, versions) in byName {
            let sorted = versions.sorted { $0.version < $1.version }
            for (old, new) in zip(sorted, sorted.dropFirst()) { errors += SchemaEvolution.check(old: old, new: new) }
        }
        var layouts: [SchemaReference: RecordLayout] = [:]
        for (ref, s) in schemas { layouts[ref] = RecordLayout(name: ref.description, fields: s.fields, unknownFields: s.unknownFields) }

        func resolve(_ ref: SchemaReference, at location: SourceLocation) -> RecordLayout? {
            if let layout = layouts[ref] { return layout }
            let known = (byName[ref.name] ?? []).map { String($0.version) }.sorted()
            let hint = known.isEmpty ? "no schema named \(ref.name) is declared" : "\(ref.name) has versions \(known.joined(separator: ", "))"
            errors.append(location.error(.unknownReference, "unknown schema \(ref); \(hint)"))
            return nil
        }

        var users: [SchemaReference: Set<Role>] = [:]
        var artifacts: [CompiledArtifact] = []
        var seen: [String: SourceLocation] = [:]
        func claim(_ kind: ArtifactKind, _ name: String, _ location: SourceLocation) -> Bool {
            let key = ArtifactCodec.artifactName(kind, name)
            if let first = seen[key] {
                errors.append(location.error(.duplicateName, "\(kind) \"\(name)\" is already declared at \(first.file):\(first.line); names must be unique"))
                return false
            }
            seen[key] = location
            return true
        }

        // Policy packs.
        for var pack in d.policyPacks {
            guard claim(.policyPack, pack.name, pack.nameLocation) else { continue }
            guard let layout = resolve(pack.input, at: pack.inputLocation) else { continue }
            var ok = true
            var ruleNames: [String: Int] = [:]
            for (i, rule) in pack.rules.enumerated() {
                if let j = ruleNames[rule.name] {
                    errors.append(rule.location.child("name").error(.duplicateName, "rule \"\(rule.name)\" repeats rules[\(j)]; rule names are unique within a pack"))
                    ok = false
                }
                ruleNames[rule.name] = i
                switch ExpressionCheck.compile(rule.when, variable: requestVariable, layout: layout, at: rule.whenLocation, expecting: CELType.bool) {
                case .success(let program): pack.rules[i].when = CELPrinter.print(program.expression)
                case .failure(let problems):
                    errors += problems.errors
                    ok = false
                }
            }
            for role in pack.roles { users[pack.input, default: []].insert(role) }
            if ok {
                artifacts.append(artifact(.policyPack, pack.name, pack.roles, ArtifactCodec.encode(pack)))
            }
        }

        // Rule sets.
        for var set in d.ruleSets {
            guard claim(.ruleSet, set.name, set.nameLocation) else { continue }
            guard let layout = resolve(set.event, at: set.eventLocation) else { continue }
            var ok = true
            var ruleNames: [String: Int] = [:]
            for (i, rule) in set.rules.enumerated() {
                if let j = ruleNames[rule.name] {
                    errors.append(rule.location.child("name").error(.duplicateName, "rule \"\(rule.name)\" repeats rules[\(j)]; rule names are unique within a rule set"))
                    ok = false
                }
                ruleNames[rule.name] = i
                switch ExpressionCheck.compile(rule.when, variable: eventVariable, layout: layout, at: rule.whenLocation, expecting: CELType.bool) {
                case .success(let program): set.rules[i].when = CELPrinter.print(program.expression)
                case .failure(let problems):
                    errors += problems.errors
                    ok = false
                }
            }
            users[set.event, default: []].insert(.detector)
            if ok { artifacts.append(artifact(.ruleSet, set.name, [.detector], ArtifactCodec.encode(set))) }
        }

        // Contracts.
        for var contract in d.contracts {
            guard claim(.contract, contract.name, contract.nameLocation) else { continue }
            let fromRef = SchemaReference(name: contract.schema, version: contract.from)
            let toRef = SchemaReference(name: contract.schema, version: contract.to)
            let fromLayout = resolve(fromRef, at: contract.location.child("from"))
            let toLayout = resolve(toRef, at: contract.location.child("to"))
            guard let fromLayout, let toLayout, let source = schemas[fromRef], let target = schemas[toRef] else { continue }
            let problems = ContractCheck.check(&contract, source: source, target: target, sourceLayout: fromLayout, targetLayout: toLayout)
            users[fromRef, default: []].insert(.dataMigrator)
            users[toRef, default: []].insert(.dataMigrator)
            if problems.isEmpty {
                artifacts.append(artifact(.contract, contract.name, [.dataMigrator], ArtifactCodec.encode(contract)))
            } else {
                errors += problems
            }
        }

        // Schemas: every role that uses one, and the spine, which validates records of every schema.
        for (ref, s) in schemas {
            let roles = (users[ref] ?? []).union([.spine])
            artifacts.append(artifact(.schema, ref.description, Array(roles), ArtifactCodec.encode(s)))
        }

        guard errors.isEmpty else { return .failure(IntentErrors(errors)) }
        return .success(CompiledBundle(artifacts: artifacts.sorted { $0.name < $1.name }))
    }

    static func artifact(_ kind: ArtifactKind, _ name: String, _ roles: [Role], _ json: JSONValue) -> CompiledArtifact {
        let bytes: [UInt8]
        do {
            bytes = try CanonicalJSON.encode(json)
        } catch {
            // Defaults are checked against their types, and numbers beyond 2^53 are kept as strings.
            preconditionFailure("artifact \(name) holds a value JSON cannot carry: \(error)")
        }
        return CompiledArtifact(name: ArtifactCodec.artifactName(kind, name), kind: kind, roles: roles.sorted(), bytes: bytes)
    }
}

/// Compiles one expression against the record type of a schema and turns its diagnostics into located errors.
enum ExpressionCheck {
    static func compile(
        _ text: String, variable: String, layout: RecordLayout, at location: SourceLocation, expecting: CELType?
    ) -> Result<CELProgram, IntentErrors> {
        let environment = CELEnvironment(variables: [.init(variable, .record(layout.recordType))])
        let expression: CELExpression
        do {
            expression = try CELParser.parse(text)
        } catch {
            return .failure(IntentErrors([location.inside(text, offset: error.offset).error(.expressionSyntax, "syntax error: \(error.message)")]))
        }
        do {
            let program = try CELProgram.compile(expression, environment: environment)
            if let expecting, program.type != expecting && program.type != .dyn {
                return .failure(IntentErrors([location.error(.expressionType, "the expression is \(program.type); it must be a \(expecting)")]))
            }
            return .success(program)
        } catch {
            return .failure(IntentErrors(error.diagnostics.map { location.inside(text, offset: $0.offset).error(.expressionType, $0.message) }))
        }
    }
}
