public import BenCore

/// The canonical JSON of each artifact kind, and the strict reader an agent uses to load it back.
///
/// Artifacts carry meaning only: fields sorted by name, expressions in normal form, descriptions and
/// comments left out. So the same intent always compiles to the same bytes, and a comment or whitespace edit
/// compiles to no new artifact.
public enum ArtifactCodec {
    public static let schemaFormat = "ben/schema/v1"
    public static let policyPackFormat = "ben/policy_pack/v1"
    public static let ruleSetFormat = "ben/rule_set/v1"
    public static let contractFormat = "ben/contract/v1"

    /// Artifact names: `schema/NAME@VERSION`, `policy_pack/NAME`, `rule_set/NAME`, `contract/NAME`.
    public static func artifactName(_ kind: ArtifactKind, _ name: String) -> String { "\(kind.rawValue)/\(name)" }

    // MARK: Encoding

    static func encode(_ field: FieldDeclaration) -> JSONValue {
        var object: [String: JSONValue] = [
            "name": .string(field.name), "type": .string(field.type.description), "required": .bool(field.required),
        ]
        if let d = field.defaultValue { object["default"] = d }
        if let nested = RecordLayout.objectFields(field.type) { object["fields"] = .array(nested.map(encode)) }
        return .object(object)
    }

    public static func encode(_ s: SchemaDeclaration) -> JSONValue {
        [
            "format": .string(schemaFormat), "name": .string(s.name), "version": .int(Int64(s.version)),
            "compatibility": .string(s.compatibility.rawValue), "unknown_fields": .string(s.unknownFields.rawValue),
            "fields": .array(s.fields.map(encode)),
        ]
    }

    static func encode(_ r: SchemaReference) -> JSONValue { ["schema": .string(r.name), "version": .int(Int64(r.version))] }

    /// `when` texts must already be in normal form.
    public static func encode(_ p: PolicyPackDeclaration) -> JSONValue {
        [
            "format": .string(policyPackFormat), "name": .string(p.name), "roles": .array(p.roles.map { .string($0.rawValue) }),
            "input": encode(p.input), "on_error": .string(p.onError.rawValue), "default": p.defaultAction.json,
            "rules": .array(p.rules.map { ["name": .string($0.name), "when": .string($0.when), "action": $0.action.json] }),
        ]
    }

    public static func encode(_ r: RuleSetDeclaration) -> JSONValue {
        [
            "format": .string(ruleSetFormat), "name": .string(r.name), "event": encode(r.event),
            "rules": .array(r.rules.map {
                ["name": .string($0.name), "when": .string($0.when), "severity": .string($0.severity.rawValue), "message": .string($0.message)]
            }),
        ]
    }

    public static func encode(_ c: ContractDeclaration) -> JSONValue {
        [
            "format": .string(contractFormat), "name": .string(c.name), "schema": .string(c.schema),
            "from": .int(Int64(c.from)), "to": .int(Int64(c.to)), "compatibility": .string(c.compatibility.rawValue),
            "steps": .array(c.steps.map { step -> JSONValue in
                switch step.step {
                case .rename(let from, let to): ["op": "rename", "from": .string(from), "to": .string(to)]
                case .setDefault(let field, let value): ["op": "default", "field": .string(field), "value": value]
                case .drop(let field): ["op": "drop", "field": .string(field)]
                case .compute(let field, let expression): ["op": "compute", "field": .string(field), "expr": .string(expression)]
                }
            }),
        ]
    }

    // MARK: Decoding

    static func location(_ artifact: String, _ path: String) -> FileLocation {
        FileLocation(file: artifact, line: 0, column: 0, field: path)
    }

    static func error(_ artifact: String, _ e: DocumentError) -> IntentError {
        IntentError(.artifact, file: artifact, line: 0, column: 0, field: e.field, "artifact is malformed: \(e.detail)")
    }

    static func enumeration<T: RawRepresentable>(_ r: FieldReader, _ key: String, _ type: T.Type) throws(DocumentError) -> T
    where T.RawValue == String {
        let text = try r.string(key)
        guard let v = T(rawValue: text) else { throw r.error(key, .invalidValue, "\"\(text)\" is not known to this Ben") }
        return v
    }

    static func decodeField(_ value: JSONValue, path: String, artifact: String) throws(DocumentError) -> FieldDeclaration {
        let r = try FieldReader(value, document: artifact, path: path, allowed: ["name", "type", "required", "default", "fields"])
        let name = try r.string("name")
        let nested: [FieldDeclaration]? =
            r.has("fields") ? try r.elements("fields") { (v, p) throws(DocumentError) in try decodeField(v, path: p, artifact: artifact) } : nil
        let typeText = try r.string("type")
        guard let type = FieldType(spelling: Substring(typeText), mapKey: "string, ", object: nested.map { .object($0) }) else { throw r.error("type", .invalidValue, "unknown type \(typeText)") }
        return FieldDeclaration(
            name: name, type: type, required: try r.bool("required"), defaultValue: r.members["default"],
            location: location(artifact, r.fieldPath("name")))
    }

    static func decodeReference(_ r: FieldReader, _ key: String) throws(DocumentError) -> SchemaReference {
        let s = try r.object(key, allowed: ["schema", "version"])
        return SchemaReference(name: try s.string("schema"), version: Int(try s.int("version", in: 1...1_000_000)))
    }

    static func decodeAction(_ value: JSONValue, path: String, document: String) throws(DocumentError) -> PolicyAction {
        let r = try FieldReader(value, document: document, path: path, allowed: ["type", "target", "tag"])
        switch try r.string("type") {
        case "allow": return .allow
        case "deny": return .deny
        case "route": return .route(try r.string("target"))
        case "tag": return .tag(try r.string("tag"))
        default: throw r.error("type", .invalidValue, "unknown action")
        }
    }

    /// Reads one artifact of `format`: every problem, from the bytes up, is an `IntentError` naming the artifact
    /// and the field.
    static func decode<T>(
        _ bytes: [UInt8], artifact: String, format: String, allowed: Set<String>, _ body: (FieldReader) throws(DocumentError) -> T
    ) throws(IntentError) -> T {
        do throws(DocumentError) {
            let json = try parseDocumentJSON(bytes, document: artifact, maxBytes: 64 << 20)
            let r = try FieldReader(json, document: artifact, allowed: allowed)
            guard try r.string("format") == format else { throw r.error("format", .invalidValue, "expected \(format)") }
            return try body(r)
        } catch {
            throw Self.error(artifact, error)
        }
    }

    public static func decodeSchema(_ bytes: [UInt8], artifact: String) throws(IntentError) -> SchemaDeclaration {
        try decode(bytes, artifact: artifact, format: schemaFormat, allowed: ["format", "name", "version", "compatibility", "unknown_fields", "fields"]) {
            r throws(DocumentError) in
            SchemaDeclaration(
                name: try r.string("name"), version: Int(try r.int("version", in: 1...1_000_000)),
                compatibility: try enumeration(r, "compatibility", CompatibilityMode.self),
                unknownFields: try enumeration(r, "unknown_fields", UnknownFields.self),
                fields: try r.elements("fields") { (v, p) throws(DocumentError) in try decodeField(v, path: p, artifact: artifact) },
                location: location(artifact, ""), versionLocation: location(artifact, "version"))
        }
    }

    public static func decodePolicyPack(_ bytes: [UInt8], artifact: String) throws(IntentError) -> PolicyPackDeclaration {
        try decode(bytes, artifact: artifact, format: policyPackFormat, allowed: ["format", "name", "roles", "input", "on_error", "default", "rules"]) {
            r throws(DocumentError) in
            let rules = try r.elements("rules") { (v, p) throws(DocumentError) in try decodeRule(v, path: p, artifact: artifact) }
            return PolicyPackDeclaration(
                name: try r.string("name"),
                roles: try r.strings("roles", expected: "a role") { Role(rawValue: $0) },
                input: try decodeReference(r, "input"), inputLocation: location(artifact, "input"),
                onError: try enumeration(r, "on_error", ErrorPolicy.self), rules: rules,
                defaultAction: try decodeAction(try r.value("default"), path: "default", document: artifact),
                location: location(artifact, ""), nameLocation: location(artifact, "name"))
        }
    }

    static func decodeRule(_ value: JSONValue, path: String, artifact: String) throws(DocumentError) -> RuleDeclaration {
        let r = try FieldReader(value, document: artifact, path: path, allowed: ["name", "when", "action"])
        return RuleDeclaration(
            name: try r.string("name"), when: try r.string("when"), whenLocation: location(artifact, r.fieldPath("when")),
            action: try decodeAction(try r.value("action"), path: r.fieldPath("action"), document: artifact),
            location: location(artifact, path))
    }

    public static func decodeRuleSet(_ bytes: [UInt8], artifact: String) throws(IntentError) -> RuleSetDeclaration {
        try decode(bytes, artifact: artifact, format: ruleSetFormat, allowed: ["format", "name", "event", "rules"]) { r throws(DocumentError) in
            let rules = try r.elements("rules") { (v, p) throws(DocumentError) in try decodeDetectionRule(v, path: p, artifact: artifact) }
            return RuleSetDeclaration(
                name: try r.string("name"), event: try decodeReference(r, "event"), eventLocation: location(artifact, "event"),
                rules: rules, location: location(artifact, ""), nameLocation: location(artifact, "name"))
        }
    }

    static func decodeDetectionRule(_ value: JSONValue, path: String, artifact: String) throws(DocumentError) -> DetectionRuleDeclaration {
        let r = try FieldReader(value, document: artifact, path: path, allowed: ["name", "when", "severity", "message"])
        return DetectionRuleDeclaration(
            name: try r.string("name"), when: try r.string("when"), whenLocation: location(artifact, r.fieldPath("when")),
            severity: try enumeration(r, "severity", Severity.self), message: try r.string("message"), location: location(artifact, path))
    }

    public static func decodeContract(_ bytes: [UInt8], artifact: String) throws(IntentError) -> ContractDeclaration {
        try decode(bytes, artifact: artifact, format: contractFormat, allowed: ["format", "name", "schema", "from", "to", "compatibility", "steps"]) {
            r throws(DocumentError) in
            let steps = try r.elements("steps") { (v, p) throws(DocumentError) in try decodeStep(v, path: p, artifact: artifact) }
            return ContractDeclaration(
                name: try r.string("name"), schema: try r.string("schema"), from: Int(try r.int("from", in: 1...1_000_000)),
                to: Int(try r.int("to", in: 1...1_000_000)), compatibility: try enumeration(r, "compatibility", CompatibilityMode.self),
                steps: steps, location: location(artifact, ""), nameLocation: location(artifact, "name"))
        }
    }

    static func decodeStep(_ value: JSONValue, path: String, artifact: String) throws(DocumentError) -> LocatedStep {
        let r = try FieldReader(value, document: artifact, path: path, allowed: ["op", "from", "to", "field", "value", "expr"])
        let step: MigrationStep
        switch try r.string("op") {
        case "rename": step = .rename(from: try r.string("from"), to: try r.string("to"))
        case "default": step = .setDefault(field: try r.string("field"), value: try r.value("value"))
        case "drop": step = .drop(field: try r.string("field"))
        case "compute": step = .compute(field: try r.string("field"), expression: try r.string("expr"))
        default: throw r.error("op", .invalidValue, "unknown step")
        }
        return LocatedStep(step: step, location: location(artifact, path), expressionLocation: location(artifact, r.fieldPath("expr")))
    }
}
