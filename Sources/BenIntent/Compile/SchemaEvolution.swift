import BenCore

/// Checks one schema version against the previous version of the same schema, under the newer version's
/// compatibility mode.
enum SchemaEvolution {
    static func check(old: SchemaDeclaration, new: SchemaDeclaration) -> [IntentError] {
        var errors: [IntentError] = []
        compare(old.fields, new.fields, prefix: "", old: old, new: new, mode: new.compatibility, &errors)
        return errors
    }

    static func compare(
        _ oldFields: [FieldDeclaration], _ newFields: [FieldDeclaration], prefix: String, old: SchemaDeclaration,
        new: SchemaDeclaration, mode: CompatibilityMode, _ errors: inout [IntentError]
    ) {
        guard mode != .none else { return }
        let backward = mode == .backward || mode == .full
        let forward = mode == .forward || mode == .full
        let (o, n) = (old.reference, new.reference)
        let newByName = Dictionary(uniqueKeysWithValues: newFields.map { ($0.name, $0) })
        let oldByName = Dictionary(uniqueKeysWithValues: oldFields.map { ($0.name, $0) })
        for field in oldFields {
            let path = prefix + field.name
            guard let now = newByName[field.name] else {
                if backward && field.alwaysPresent {
                    var at = new.location
                    at.field = "fields"
                    errors.append(at.error(
                        .incompatibleChange,
                        "\(n) removes required field `\(path)` of \(o); under \(mode) compatibility readers of \(o) rely on it. Keep the field, or declare a new schema name or compatibility: none"))
                }
                continue
            }
            if !field.type.sameShape(now.type) {
                errors.append(now.location.error(
                    .incompatibleChange,
                    "`\(path)` is \(field.type) in \(o) and \(now.type) in \(n); under \(mode) compatibility a field keeps its type. Add a field with a new name instead"))
                continue
            }
            if backward && field.alwaysPresent && !now.alwaysPresent {
                errors.append(now.location.error(
                    .incompatibleChange,
                    "`\(path)` is always present in \(o) but optional in \(n); under \(mode) compatibility keep it required or give it a default"))
            }
            if forward && now.required && !field.alwaysPresent {
                errors.append(now.location.error(
                    .incompatibleChange,
                    "`\(path)` is required in \(n) but may be absent in records of \(o); under \(mode) compatibility give it a default instead"))
            }
            if let a = RecordLayout.objectFields(field.type), let b = RecordLayout.objectFields(now.type) {
                compare(a, b, prefix: path + ".", old: old, new: new, mode: mode, &errors)
            }
        }
        for field in newFields where oldByName[field.name] == nil {
            if forward && field.required {
                errors.append(field.location.error(
                    .incompatibleChange,
                    "new field `\(prefix + field.name)` is required in \(n), but records of \(o) do not have it; under \(mode) compatibility give it a default"))
            }
        }
    }
}
