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

    /// Reads the files, then compiles in stages: schemas (unique versions, evolution), policy packs, rule sets,
    /// contracts, and last the schema artifacts with every role that uses them. Every stage's problems are kept, so
    /// one build reports them all.
    public static func build(_ files: [IntentSourceFile]) -> Result<CompiledBundle, IntentErrors> {
        var reader = IntentReader()
        for file in files.sorted(by: { $0.path < $1.path }) { reader.read(file) }
        var build = BundleBuild(errors: reader.errors)
        let d = reader.declarations
        if files.isEmpty {
            build.errors.append(IntentError(.missingKey, file: ".", line: 0, column: 0, field: "", "no intent files (*.yaml, *.yml) found"))
        }
        build.checkSchemas(d.schemas)
        for pack in d.policyPacks { build.compile(pack) }
        for set in d.ruleSets { build.compile(set) }
        for contract in d.contracts { build.compile(contract) }
        build.addSchemaArtifacts()
        guard build.errors.isEmpty else { return .failure(IntentErrors(build.errors)) }
        return .success(CompiledBundle(artifacts: build.artifacts.sorted { $0.name < $1.name }))
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

/// The state of one `IntentCompiler.build`, stage by stage.
struct BundleBuild {
    var errors: [IntentError]
    var schemas: [SchemaReference: SchemaDeclaration] = [:]
    var byName: [String: [SchemaDeclaration]] = [:]
    var layouts: [SchemaReference: RecordLayout] = [:]
    /// The roles that use each schema.
    var users: [SchemaReference: Set<Role>] = [:]
    var artifacts: [CompiledArtifact] = []
    /// Where each artifact name was first declared.
    var seen: [String: FileLocation] = [:]

    /// Schemas: unique name@version, evolution per name in version order.
    mutating func checkSchemas(_ declared: [SchemaDeclaration]) {
        for s in declared {
            if let first = schemas[s.reference] {
                errors.append(s.versionLocation.error(.duplicateName, "\(s.reference) is already declared at \(first.location.file):\(first.location.line); give this one a new version"))
            } else {
                schemas[s.reference] = s
            }
        }
        byName = Dictionary(grouping: schemas.values, by: \.name)
        for (_, versions) in byName {
            let sorted = versions.sorted { $0.version < $1.version }
            for (old, new) in zip(sorted, sorted.dropFirst()) { errors += SchemaEvolution.check(old: old, new: new) }
        }
        for (ref, s) in schemas { layouts[ref] = RecordLayout(name: ref.description, fields: s.fields, unknownFields: s.unknownFields) }
    }

    mutating func resolve(_ ref: SchemaReference, at location: FileLocation) -> RecordLayout? {
        if let layout = layouts[ref] { return layout }
        let known = (byName[ref.name] ?? []).map { String($0.version) }.sorted()
        let hint = known.isEmpty ? "no schema named \(ref.name) is declared" : "\(ref.name) has versions \(known.joined(separator: ", "))"
        errors.append(location.error(.unknownReference, "unknown schema \(ref); \(hint)"))
        return nil
    }

    /// Claims an artifact name; false (reported) when another declaration has it.
    mutating func claim(_ kind: ArtifactKind, _ name: String, _ location: FileLocation) -> Bool {
        let key = ArtifactCodec.artifactName(kind, name)
        if let first = seen[key] {
            errors.append(location.error(.duplicateName, "\(kind) \"\(name)\" is already declared at \(first.file):\(first.line); names must be unique"))
            return false
        }
        seen[key] = location
        return true
    }

    /// Checks the rules of a pack or a rule set (unique names, boolean `when` expressions) and replaces each `when`
    /// with its canonical text. False when any rule has a problem.
    mutating func compileRules<Rule>(
        _ rules: inout [Rule], variable: String, layout: RecordLayout, within container: String,
        name: KeyPath<Rule, String>, location: KeyPath<Rule, FileLocation>, when: WritableKeyPath<Rule, String>,
        whenLocation: KeyPath<Rule, FileLocation>
    ) -> Bool {
        var ok = true
        var ruleNames: [String: Int] = [:]
        for (i, rule) in rules.enumerated() {
            if let j = ruleNames[rule[keyPath: name]] {
                errors.append(rule[keyPath: location].child("name").error(.duplicateName, "rule \"\(rule[keyPath: name])\" repeats rules[\(j)]; rule names are unique within \(container)"))
                ok = false
            }
            ruleNames[rule[keyPath: name]] = i
            switch ExpressionCheck.compile(rule[keyPath: when], variable: variable, layout: layout, at: rule[keyPath: whenLocation], expecting: CELType.bool) {
            case .success(let program): rules[i][keyPath: when] = CELPrinter.print(program.expression)
            case .failure(let problems):
                errors += problems.errors
                ok = false
            }
        }
        return ok
    }

    /// Policy packs.
    mutating func compile(_ declared: PolicyPackDeclaration) {
        var pack = declared
        guard claim(.policyPack, pack.name, pack.nameLocation) else { return }
        guard let layout = resolve(pack.input, at: pack.inputLocation) else { return }
        let ok = compileRules(
            &pack.rules, variable: IntentCompiler.requestVariable, layout: layout, within: "a pack", name: \.name, location: \.location,
            when: \.when, whenLocation: \.whenLocation)
        for role in pack.roles { users[pack.input, default: []].insert(role) }
        if ok {
            artifacts.append(IntentCompiler.artifact(.policyPack, pack.name, pack.roles, ArtifactCodec.encode(pack)))
        }
    }

    /// Rule sets.
    mutating func compile(_ declared: RuleSetDeclaration) {
        var set = declared
        guard claim(.ruleSet, set.name, set.nameLocation) else { return }
        guard let layout = resolve(set.event, at: set.eventLocation) else { return }
        let ok = compileRules(
            &set.rules, variable: IntentCompiler.eventVariable, layout: layout, within: "a rule set", name: \.name,
            location: \.location, when: \.when, whenLocation: \.whenLocation)
        users[set.event, default: []].insert(.detector)
        if ok { artifacts.append(IntentCompiler.artifact(.ruleSet, set.name, [.detector], ArtifactCodec.encode(set))) }
    }

    /// Contracts.
    mutating func compile(_ declared: ContractDeclaration) {
        var contract = declared
        guard claim(.contract, contract.name, contract.nameLocation) else { return }
        let fromRef = SchemaReference(name: contract.schema, version: contract.from)
        let toRef = SchemaReference(name: contract.schema, version: contract.to)
        let fromLayout = resolve(fromRef, at: contract.location.child("from"))
        let toLayout = resolve(toRef, at: contract.location.child("to"))
        guard let fromLayout, let toLayout, let source = schemas[fromRef], let target = schemas[toRef] else { return }
        let problems = ContractCheck.check(&contract, source: source, target: target, sourceLayout: fromLayout, targetLayout: toLayout)
        users[fromRef, default: []].insert(.dataMigrator)
        users[toRef, default: []].insert(.dataMigrator)
        if problems.isEmpty {
            artifacts.append(IntentCompiler.artifact(.contract, contract.name, [.dataMigrator], ArtifactCodec.encode(contract)))
        } else {
            errors += problems
        }
    }

    /// Schemas: every role that uses one, and the spine, which validates records of every schema.
    mutating func addSchemaArtifacts() {
        for (ref, s) in schemas {
            let roles = (users[ref] ?? []).union([.spine])
            artifacts.append(IntentCompiler.artifact(.schema, ref.description, Array(roles), ArtifactCodec.encode(s)))
        }
    }
}

/// Compiles one expression against the record type of a schema and turns its diagnostics into located errors.
enum ExpressionCheck {
    static func compile(
        _ text: String, variable: String, layout: RecordLayout, at location: FileLocation, expecting: CELType?
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
