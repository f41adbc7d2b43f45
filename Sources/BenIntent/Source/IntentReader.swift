public import BenCore
import BenYAML
import Yams

/// Reads intent source files into declarations, collecting every problem with its file, line, column and field.
///
/// A file holds one or more YAML documents (separated by `---`); each document is a mapping whose `kind` says
/// what it declares: `schema`, `policy_pack`, `rule_set` or `contract`.
public struct IntentReader {
    public private(set) var declarations = IntentDeclarations()
    public private(set) var errors: [IntentError] = []
    /// Lines of each file, for placing errors inside multi-line expressions.
    var lines: [String: [Substring]] = [:]

    public init() {}

    public static let kinds = ["schema", "policy_pack", "rule_set", "contract"]
    static let namePattern = "lowercase letters, digits, '_' and '-', starting with a letter, at most 64 characters"

    public mutating func read(_ file: IntentSourceFile) {
        lines[file.path] = file.text.split(separator: "\n", omittingEmptySubsequences: false)
        switch IntentYAML.documents(file.text, file: file.path) {
        case .failure(let error): errors.append(error)
        case .success(let documents):
            for document in documents { readDocument(document, file: file.path) }
        }
    }

    mutating func readDocument(_ node: Yams.Node, file: String) {
        let root = FileLocation(file: file, line: node.line, column: node.column, field: "")
        guard case .mapping = node else {
            if node.scalarString?.isEmpty == true { return }  // an empty document
            errors.append(root.error(.wrongType, "a document must be a mapping with a kind (\(Self.kinds.joined(separator: ", ")))"))
            return
        }
        var m = MappingReader(node, location: root)
        guard let kind = m.string("kind", &errors) else {
            errors += m.finish(allowed: ["kind"], reportUnknown: false)
            return
        }
        switch kind.value {
        case "schema": readSchema(&m)
        case "policy_pack": readPolicyPack(&m)
        case "rule_set": readRuleSet(&m)
        case "contract": readContract(&m)
        default:
            errors.append(kind.location.error(.invalidValue, "unknown kind \"\(kind.value)\"; expected one of \(Self.kinds.joined(separator: ", "))"))
        }
    }

    static func validName(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, first >= 0x61 && first <= 0x7A, b.count <= 64 else { return false }
        return b.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D }
    }

    mutating func name(_ m: inout MappingReader, _ key: String = "name") -> Located<String>? {
        guard let n = m.string(key, &errors) else { return nil }
        guard Self.validName(n.value) else {
            errors.append(n.location.error(.invalidValue, "\"\(n.value)\" is not a valid name: use \(Self.namePattern)"))
            return nil
        }
        return n
    }

    /// A CEL expression; its location is where its first character stands in the file, so an offset inside
    /// the expression maps to a line and column (`line + lines before it`, `column + characters before it`).
    mutating func expression(_ m: inout MappingReader, _ key: String) -> Located<String>? {
        guard let node = m.value(key, &errors) else { return nil }
        guard let text = node.scalarString, let style = node.scalarStyle else {
            errors.append(m.path(key).error(.wrongType, "expected an expression (a string), found \(node.kindName)"))
            return nil
        }
        let (line, column) = (node.line, node.column)
        var location = m.path(key)
        switch style {
        case .plain: break
        case .singleQuoted, .doubleQuoted: location.column = column + 1
        case .literal, .folded:
            // Block scalars start on the line after the indicator, at the block's indentation.
            location.line = line + 1
            var k = line
            let fileLines = lines[location.file] ?? []
            while k < fileLines.count && fileLines[k].allSatisfy({ $0 == " " }) { k += 1 }
            location.line = k + 1
            location.column = (k < fileLines.count ? fileLines[k].prefix { $0 == " " }.count : 0) + 1
        }
        if text.allSatisfy({ $0 == " " || $0 == "\n" }) {
            errors.append(location.error(.invalidValue, "the expression is empty"))
            return nil
        }
        return Located(text, location)
    }

    // MARK: Schemas

    mutating func readSchema(_ m: inout MappingReader) {
        let name = name(&m)
        let version = m.integer("version", in: 1...1_000_000, &errors)
        let compatibility = m.enumeration("compatibility", CompatibilityMode.self, default: .backward, &errors)
        let unknown = m.enumeration("unknown_fields", UnknownFields.self, default: .reject, &errors)
        _ = m.optionalString("description", &errors)
        let fields = m.value("fields", &errors).flatMap { readFields($0, path: m.path("fields")) }
        errors += m.finish(allowed: ["kind", "name", "version", "compatibility", "unknown_fields", "description", "fields"])
        guard let name, let version, let compatibility, let unknown, let fields else { return }
        declarations.schemas.append(
            SchemaDeclaration(
                name: name.value, version: version.value, compatibility: compatibility, unknownFields: unknown,
                fields: fields, location: m.location, versionLocation: version.location))
    }

    mutating func readFields(_ node: Yams.Node, path: FileLocation) -> [FieldDeclaration]? {
        guard let pairs = node.pairs else {
            errors.append(path.at(node).error(.wrongType, "fields must be a mapping of field name to type, found \(node.kindName)"))
            return nil
        }
        var out: [FieldDeclaration] = []
        var failed = false
        for (keyNode, valueNode) in pairs {
            guard let fieldName = keyNode.scalarString, Self.validFieldName(fieldName) else {
                errors.append(path.at(keyNode).error(.invalidValue, "a field name must be a letter or '_' then letters, digits or '_'"))
                failed = true
                continue
            }
            let location = path.at(valueNode).child(fieldName)
            if let field = readField(fieldName, valueNode, location: location) { out.append(field) } else { failed = true }
        }
        if pairs.isEmpty {
            errors.append(path.at(node).error(.invalidValue, "a schema or object needs at least one field"))
            return nil
        }
        return failed ? nil : out.sorted { $0.name < $1.name }
    }

    static func validFieldName(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, (first | 0x20 >= 0x61 && first | 0x20 <= 0x7A) || first == 0x5F, b.count <= 128 else { return false }
        return b.allSatisfy { ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }

    mutating func readField(_ name: String, _ node: Yams.Node, location: FileLocation) -> FieldDeclaration? {
        // Shorthand: `port: int` is an optional field of that type.
        if let text = node.scalarString {
            guard let type = parseType(text, fields: nil, at: location) else { return nil }
            return FieldDeclaration(name: name, type: type, required: false, defaultValue: nil, location: location)
        }
        guard var m = mapping(node, at: location, "a field is a type (`port: int`) or a mapping with type, required, default") else {
            return nil
        }
        let typeText = m.string("type", &errors)
        let required = m.boolean("required", default: false, &errors)
        _ = m.optionalString("description", &errors)
        let nested = m.optionalValue("fields").flatMap { readFields($0, path: m.path("fields")) }
        let defaultNode = m.optionalValue("default")
        errors += m.finish(allowed: ["type", "required", "default", "description", "fields"])
        guard let typeText, let required else { return nil }
        guard let type = parseType(typeText.value, fields: nested, at: typeText.location) else { return nil }
        if m.has("fields") && !type.containsObject {
            errors.append(m.path("fields").error(.invalidValue, "only an object (or a list or map of objects) has fields"))
            return nil
        }
        if type.containsObject && nested == nil {
            if !m.has("fields") { errors.append(typeText.location.error(.missingKey, "an object field needs `fields:`")) }
            return nil
        }
        var defaultValue: JSONValue? = nil
        if let defaultNode {
            let at = m.path("default").at(defaultNode)
            if required.value {
                errors.append(at.error(.invalidValue, "a required field cannot have a default; remove one of them"))
                return nil
            }
            guard let value = YAMLValues.json(defaultNode, as: type, at: at, &errors) else { return nil }
            defaultValue = value
        }
        return FieldDeclaration(name: name, type: type, required: required.value, defaultValue: defaultValue, location: location)
    }

    mutating func parseType(_ text: String, fields: [FieldDeclaration]?, at location: FileLocation) -> FieldType? {
        // Spaces are insignificant in source (`map<string, int>`, `map<string,int>`).
        let t = text.filter { $0 != " " }
        guard let type = FieldType(spelling: Substring(t), mapKey: "string,", object: .object(fields ?? [])) else {
            let hint = t.hasPrefix("map<") ? " (map keys are always strings: map<string, T>)" : ""
            errors.append(location.error(.invalidValue, "unknown type \"\(text)\"; use one of \(FieldType.spelling)\(hint)"))
            return nil
        }
        return type
    }

    /// A mapping's reader, or nil (with the error `shape` at `location`) when the node is not a mapping.
    mutating func mapping(_ node: Yams.Node, at location: FileLocation, _ shape: String) -> MappingReader? {
        guard case .mapping = node else {
            errors.append(location.error(.wrongType, shape))
            return nil
        }
        return MappingReader(node, location: location)
    }

    /// Every item of the list `key`, each read by `read` at its own location. Nil when the list is missing, not a
    /// list, empty (unless `allowEmpty`) or any item is unreadable; each problem is reported, so a declaration is
    /// built only from a whole list.
    mutating func items<T>(
        _ m: inout MappingReader, _ key: String, allowEmpty: Bool = false, _ read: (inout Self, Yams.Node, FileLocation) -> T?
    ) -> [T]? {
        guard let items = m.list(key, allowEmpty: allowEmpty, &errors) else { return nil }
        let path = m.path(key)
        var out: [T] = []
        for (i, item) in items.enumerated() {
            if let value = read(&self, item, path.index(i).at(item)) { out.append(value) }
        }
        return out.count == items.count ? out : nil
    }

    // MARK: Policy packs and rule sets

    mutating func schemaReference(_ m: inout MappingReader, _ key: String) -> Located<SchemaReference>? {
        guard let text = m.string(key, &errors) else { return nil }
        let parts = text.value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, Self.validName(String(parts[0])), let version = Int(parts[1]), version >= 1 else {
            errors.append(text.location.error(.invalidValue, "expected a schema reference such as http_request@2 (name@version)"))
            return nil
        }
        return Located(SchemaReference(name: String(parts[0]), version: version), text.location)
    }

    mutating func readPolicyPack(_ m: inout MappingReader) {
        let name = name(&m)
        let roles = m.list("roles", &errors).flatMap { items -> [Role]? in
            var out: [Role] = []
            for (i, item) in items.enumerated() {
                guard let text = item.scalarString, let role = Role(rawValue: text) else {
                    errors.append(m.path("roles").index(i).at(item).error(.invalidValue, "expected a role: \(Role.spelling)"))
                    return nil
                }
                guard role == .proxy || role == .spine else {
                    errors.append(m.path("roles").index(i).at(item).error(.invalidValue, "policy packs run on proxy and spine; \(role) runs rule sets or contracts"))
                    return nil
                }
                out.append(role)
            }
            if out.isEmpty { errors.append(m.path("roles").error(.invalidValue, "name at least one role (proxy, spine)")) }
            return out.isEmpty ? nil : Array(Set(out)).sorted()
        }
        let input = schemaReference(&m, "input")
        let onError = m.enumeration("on_error", ErrorPolicy.self, default: .deny, &errors)
        _ = m.optionalString("description", &errors)
        let rules = items(&m, "rules") { $0.readPolicyRule($1, at: $2) }
        let defaultAction = m.value("default", &errors).flatMap { readAction($0, at: m.path("default").at($0)) }
        errors += m.finish(allowed: ["kind", "name", "roles", "input", "on_error", "description", "rules", "default"])
        if case .tag? = defaultAction {
            errors.append(m.path("default").error(.invalidValue, "the default must decide: allow, deny or {route: target}"))
            return
        }
        guard let name, let roles, let input, let onError, let rules, let defaultAction else { return }
        declarations.policyPacks.append(
            PolicyPackDeclaration(
                name: name.value, roles: roles, input: input.value, inputLocation: input.location, onError: onError,
                rules: rules, defaultAction: defaultAction, location: m.location, nameLocation: name.location))
    }

    mutating func readPolicyRule(_ node: Yams.Node, at location: FileLocation) -> RuleDeclaration? {
        guard var m = mapping(node, at: location, "a rule is a mapping with name, when and action") else { return nil }
        let name = name(&m)
        let when = expression(&m, "when")
        let action = m.value("action", &errors).flatMap { readAction($0, at: m.path("action").at($0)) }
        _ = m.optionalString("description", &errors)
        errors += m.finish(allowed: ["name", "when", "action", "description"])
        guard let name, let when, let action else { return nil }
        return RuleDeclaration(name: name.value, when: when.value, whenLocation: when.location, action: action, location: location)
    }

    mutating func readAction(_ node: Yams.Node, at location: FileLocation) -> PolicyAction? {
        let expected = "an action is allow, deny, {route: TARGET} or {tag: NAME}"
        switch node {
        case .scalar(let scalar):
            switch scalar.string {
            case "allow": return .allow
            case "deny": return .deny
            default:
                errors.append(location.error(.invalidValue, "unknown action \"\(scalar.string)\"; \(expected)"))
                return nil
            }
        case .mapping:
            guard let pairs = node.pairs, pairs.count == 1, let key = pairs[0].key.scalarString, key == "route" || key == "tag",
                let value = pairs[0].value.scalarString, !value.isEmpty
            else {
                errors.append(location.error(.invalidValue, expected))
                return nil
            }
            return key == "route" ? .route(value) : .tag(value)
        case .sequence, .alias:
            errors.append(location.error(.wrongType, expected))
            return nil
        }
    }

    mutating func readRuleSet(_ m: inout MappingReader) {
        let name = name(&m)
        let event = schemaReference(&m, "event")
        _ = m.optionalString("description", &errors)
        let rules = items(&m, "rules") { $0.readDetectionRule($1, at: $2) }
        errors += m.finish(allowed: ["kind", "name", "event", "description", "rules"])
        guard let name, let event, let rules else { return }
        declarations.ruleSets.append(
            RuleSetDeclaration(
                name: name.value, event: event.value, eventLocation: event.location, rules: rules, location: m.location,
                nameLocation: name.location))
    }

    mutating func readDetectionRule(_ node: Yams.Node, at location: FileLocation) -> DetectionRuleDeclaration? {
        guard var m = mapping(node, at: location, "a detection rule is a mapping with name, when, severity and message") else { return nil }
        let name = name(&m)
        let when = expression(&m, "when")
        let severity = m.enumeration("severity", Severity.self, default: nil, &errors)
        let message = m.string("message", &errors)
        errors += m.finish(allowed: ["name", "when", "severity", "message"])
        guard let name, let when, let severity, let message else { return nil }
        return DetectionRuleDeclaration(
            name: name.value, when: when.value, whenLocation: when.location, severity: severity, message: message.value,
            location: location)
    }

    // MARK: Contracts

    mutating func readContract(_ m: inout MappingReader) {
        let name = name(&m)
        let schema = self.name(&m, "schema")
        let from = m.integer("from", in: 1...1_000_000, &errors)
        let to = m.integer("to", in: 1...1_000_000, &errors)
        let compatibility = m.enumeration("compatibility", CompatibilityMode.self, default: nil, &errors)
        _ = m.optionalString("description", &errors)
        let steps = items(&m, "steps", allowEmpty: true) { $0.readStep($1, at: $2) }
        errors += m.finish(allowed: ["kind", "name", "schema", "from", "to", "compatibility", "description", "steps"])
        if let from, let to, from.value == to.value {
            errors.append(to.location.error(.invalidValue, "a contract migrates between two different versions"))
            return
        }
        guard let name, let schema, let from, let to, let compatibility, let steps else { return }
        declarations.contracts.append(
            ContractDeclaration(
                name: name.value, schema: schema.value, from: from.value, to: to.value, compatibility: compatibility,
                steps: steps, location: m.location, nameLocation: name.location))
    }

    mutating func readStep(_ node: Yams.Node, at location: FileLocation) -> LocatedStep? {
        let expected = "a step is one of rename: {from, to}, default: {field, value}, drop: FIELD, compute: {field, expr}"
        guard let pairs = node.pairs, pairs.count == 1, let op = pairs[0].key.scalarString else {
            errors.append(location.error(.invalidValue, expected))
            return nil
        }
        let body = pairs[0].value
        let at = location.child(op).at(body)
        if op == "drop" {
            guard let field = body.scalarString, Self.validFieldName(field) else {
                errors.append(at.error(.invalidValue, "drop names one field: drop: legacy_id"))
                return nil
            }
            return LocatedStep(step: .drop(field: field), location: at)
        }
        // The other steps are a mapping: its keys are read, then any other key is reported.
        guard let allowed = Self.stepKeys[op] else {
            errors.append(location.error(.invalidValue, "unknown step \"\(op)\"; \(expected)"))
            return nil
        }
        var m = MappingReader(body, location: at)
        var step: LocatedStep?
        switch op {
        case "rename":
            let from = m.string("from", &errors)
            let to = m.string("to", &errors)
            if let from, let to { step = LocatedStep(step: .rename(from: from.value, to: to.value), location: at) }
        case "default":
            let field = m.string("field", &errors)
            let value = m.value("value", &errors)
            // The value is typed against the target field during validation; keep it as written.
            if let field, let value {
                step = LocatedStep(step: .setDefault(field: field.value, value: YAMLValues.untyped(value)), location: m.path("value").at(value))
            }
        case "compute":
            let field = m.string("field", &errors)
            let expression = expression(&m, "expr")
            if let field, let expression {
                step = LocatedStep(
                    step: .compute(field: field.value, expression: expression.value), location: at, expressionLocation: expression.location)
            }
        default: break  // `stepKeys` names no other step.
        }
        errors += m.finish(allowed: allowed)
        return step
    }

    /// The keys of each step whose body is a mapping.
    static let stepKeys: [String: Set<String>] = ["rename": ["from", "to"], "default": ["field", "value"], "compute": ["field", "expr"]]
}

/// A value read from the source with where it was written.
public struct Located<T: Sendable>: Sendable {
    public var value: T
    public var location: FileLocation

    public init(_ value: T, _ location: FileLocation) {
        self.value = value
        self.location = location
    }
}

extension FileLocation {
    func at(_ node: Yams.Node) -> FileLocation { at(line: node.line, column: node.column) }
}
