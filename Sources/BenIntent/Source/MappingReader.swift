import BenCore
import BenYAML
import Yams

/// Reads one YAML mapping key by key through BenYAML's field reader (`YAMLFields`), recording which keys were used
/// so the rest can be reported as unknown, each with its own position. Its errors keep the intent reader's words.
struct MappingReader {
    /// The mapping's fields; nil when the node is not a mapping (every key is then missing).
    let fields: YAMLFields?
    let mapping: Yams.Node
    let location: FileLocation
    var used: Set<String> = []

    init(_ node: Yams.Node, location: FileLocation) {
        fields = try? YAMLFields(node, at: location, allowed: nil, what: "a mapping")
        mapping = node
        self.location = location
    }

    func node(_ key: String) -> Yams.Node? { fields?.node(key) }
    func has(_ key: String) -> Bool { node(key) != nil }

    /// The location of a key's value, or of the mapping when the key is missing, with the field path.
    func path(_ key: String) -> FileLocation {
        let child = location.child(key)
        return node(key).map { child.at($0) } ?? child
    }

    mutating func optionalValue(_ key: String) -> Yams.Node? {
        used.insert(key)
        return node(key)
    }

    mutating func value(_ key: String, _ errors: inout [IntentError]) -> Yams.Node? {
        used.insert(key)
        guard let v = node(key) else {
            errors.append(location.child(key).error(.missingKey, "required key `\(key)` is missing"))
            return nil
        }
        return v
    }

    mutating func string(_ key: String, _ errors: inout [IntentError]) -> Located<String>? {
        guard let v = value(key, &errors) else { return nil }
        guard let s = v.scalarString else {
            errors.append(path(key).error(.wrongType, "expected a string, found \(v.kindName)"))
            return nil
        }
        return Located(s, path(key))
    }

    mutating func optionalString(_ key: String, _ errors: inout [IntentError]) -> String? {
        guard has(key) else {
            used.insert(key)
            return nil
        }
        return string(key, &errors)?.value
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int>, _ errors: inout [IntentError]) -> Located<Int>? {
        guard let s = string(key, &errors) else { return nil }
        guard let i = Int(s.value), range.contains(i) else {
            errors.append(s.location.error(.invalidValue, "expected a whole number from \(range.lowerBound) to \(range.upperBound), found \"\(s.value)\""))
            return nil
        }
        return Located(i, s.location)
    }

    mutating func boolean(_ key: String, default fallback: Bool, _ errors: inout [IntentError]) -> Located<Bool>? {
        guard has(key) else {
            used.insert(key)
            return Located(fallback, location.child(key))
        }
        guard let s = string(key, &errors) else { return nil }
        switch s.value {
        case "true": return Located(true, s.location)
        case "false": return Located(false, s.location)
        default:
            errors.append(s.location.error(.invalidValue, "expected true or false, found \"\(s.value)\""))
            return nil
        }
    }

    mutating func enumeration<T: RawRepresentable & CaseIterable>(
        _ key: String, _ type: T.Type, default fallback: T?, _ errors: inout [IntentError]
    ) -> T? where T.RawValue == String {
        if fallback != nil && !has(key) {
            used.insert(key)
            return fallback
        }
        guard let s = string(key, &errors) else { return nil }
        guard let v = T(rawValue: s.value) else {
            let options = T.allCases.map(\.rawValue).joined(separator: ", ")
            errors.append(s.location.error(.invalidValue, "\"\(s.value)\" is not one of \(options)"))
            return nil
        }
        return v
    }

    mutating func list(_ key: String, allowEmpty: Bool = false, _ errors: inout [IntentError]) -> [Yams.Node]? {
        guard let v = value(key, &errors) else { return nil }
        guard let items = v.items else {
            errors.append(path(key).error(.wrongType, "expected a list, found \(v.kindName)"))
            return nil
        }
        if items.isEmpty && !allowEmpty {
            errors.append(path(key).error(.invalidValue, "the list is empty"))
            return nil
        }
        return items
    }

    /// Unknown keys, one error each at the key's own position, and keys that are not text.
    func finish(allowed: Set<String>, reportUnknown: Bool = true) -> [IntentError] {
        guard reportUnknown, let fields else { return [] }
        // The field reader leaves out a key that is not text (only `~` or `null` gets past the YAML budget), and
        // says so; the intent reader names it like any other unknown key.
        var keys = fields.entries.map { (name: $0.name, node: $0.key) }
        keys += (mapping.pairs ?? []).compactMap { pair in pair.key.scalarText == nil ? (pair.key.scalarString ?? "?", pair.key) : nil }
        return keys.filter { !allowed.contains($0.name) }.map { key in
            location.child(key.name).at(key.node).error(
                .unknownKey, "unknown key `\(key.name)`; expected one of \(allowed.sorted().joined(separator: ", "))")
        }
    }
}
