import BenCore

/// Reads one YAML mapping key by key, recording which keys were used so the rest can be reported as unknown,
/// each with its own position.
struct MappingReader {
    let pairs: [(key: YAMLTree, value: YAMLTree)]
    let location: FileLocation
    var used: Set<String> = []

    init(_ node: YAMLTree, location: FileLocation) {
        if case .mapping(let pairs, _, _) = node { self.pairs = pairs } else { self.pairs = [] }
        self.location = location
    }

    func node(_ key: String) -> YAMLTree? { pairs.first { $0.key.scalarText == key }?.value }
    func has(_ key: String) -> Bool { node(key) != nil }

    /// The location of a key's value, or of the mapping when the key is missing, with the field path.
    func path(_ key: String) -> FileLocation {
        let child = location.child(key)
        return node(key).map { child.at($0) } ?? child
    }

    mutating func optionalValue(_ key: String) -> YAMLTree? {
        used.insert(key)
        return node(key)
    }

    mutating func value(_ key: String, _ errors: inout [IntentError]) -> YAMLTree? {
        used.insert(key)
        guard let v = node(key) else {
            errors.append(location.child(key).error(.missingKey, "required key `\(key)` is missing"))
            return nil
        }
        return v
    }

    mutating func string(_ key: String, _ errors: inout [IntentError]) -> Located<String>? {
        guard let v = value(key, &errors) else { return nil }
        guard case .scalar(let s, _, _, _) = v else {
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

    mutating func list(_ key: String, allowEmpty: Bool = false, _ errors: inout [IntentError]) -> [YAMLTree]? {
        guard let v = value(key, &errors) else { return nil }
        guard case .sequence(let items, _, _) = v else {
            errors.append(path(key).error(.wrongType, "expected a list, found \(v.kindName)"))
            return nil
        }
        if items.isEmpty && !allowEmpty {
            errors.append(path(key).error(.invalidValue, "the list is empty"))
            return nil
        }
        return items
    }

    /// Unknown keys, one error each at the key's own position.
    func finish(allowed: Set<String>, reportUnknown: Bool = true) -> [IntentError] {
        guard reportUnknown else { return [] }
        var out: [IntentError] = []
        for (key, _) in pairs {
            let name = key.scalarText ?? "?"
            if !allowed.contains(name) {
                out.append(
                    location.child(name).at(key).error(
                        .unknownKey, "unknown key `\(name)`; expected one of \(allowed.sorted().joined(separator: ", "))"))
            }
        }
        return out
    }
}
