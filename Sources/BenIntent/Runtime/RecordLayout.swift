public import BenCore

/// The runtime form of a schema's fields: the CEL record type the checker uses, and how to turn a JSON record
/// into a CEL record with defaults filled in.
///
/// A layout is built once per compiled schema; every record validated against it shares its shape, so compiled
/// expressions read fields by slot.
public final class RecordLayout: Sendable {
    public let recordType: CELRecordType
    public let fields: [FieldDeclaration]
    /// For each field, the layout of the objects it holds (an object, or a list or map of objects).
    let nested: [RecordLayout?]
    public let unknownFields: UnknownFields

    public init(name: String, fields: [FieldDeclaration], unknownFields: UnknownFields) {
        var nested: [RecordLayout?] = []
        var celFields: [CELRecordType.Field] = []
        for field in fields {
            let layout = Self.objectFields(field.type).map {
                RecordLayout(name: "\(name).\(field.name)", fields: $0, unknownFields: unknownFields)
            }
            nested.append(layout)
            celFields.append(.init(name: field.name, type: Self.celType(field.type, layout), alwaysPresent: field.alwaysPresent))
        }
        self.fields = fields
        self.nested = nested
        self.unknownFields = unknownFields
        self.recordType = CELRecordType(name: name, fields: celFields)
    }

    static func objectFields(_ type: FieldType) -> [FieldDeclaration]? {
        switch type {
        case .object(let fields): fields
        case .list(let e), .map(let e): objectFields(e)
        default: nil
        }
    }

    static func celType(_ type: FieldType, _ layout: RecordLayout?) -> CELType {
        switch type {
        case .string: .string
        case .int: .int
        case .uint: .uint
        case .double: .double
        case .bool: .bool
        case .bytes: .bytes
        case .timestamp: .timestamp
        case .list(let e): .list(celType(e, layout))
        case .map(let v): .map(.string, celType(v, layout))
        case .object: layout.map { .record($0.recordType) } ?? .dyn
        }
    }

    /// Validates `json` as a record of this layout. Returns the record, or every problem with its path.
    public func record(from json: JSONValue, path: String = "") -> Result<CELValue, RecordProblems> {
        var problems: [RecordProblem] = []
        let value = convertObject(json, path: path, &problems)
        guard problems.isEmpty, let value else { return .failure(RecordProblems(problems: problems)) }
        return .success(value)
    }

    func convertObject(_ json: JSONValue, path: String, _ problems: inout [RecordProblem]) -> CELValue? {
        guard case .object(let members) = json else {
            problems.append(RecordProblem(path: path, message: "expected an object, found \(json.typeName)"))
            return nil
        }
        var values: [CELValue?] = []
        values.reserveCapacity(fields.count)
        for (i, field) in fields.enumerated() {
            let fieldPath = path.isEmpty ? field.name : "\(path).\(field.name)"
            let given = members[field.name].flatMap { $0 == .null ? nil : $0 }
            guard let json = given ?? field.defaultValue else {
                if field.required {
                    problems.append(RecordProblem(path: fieldPath, message: "required field is missing"))
                }
                values.append(nil)
                continue
            }
            values.append(RecordValidator.convert(json, as: field.type, layout: nested[i], path: fieldPath, &problems))
        }
        if unknownFields == .reject {
            for name in members.keys.sorted() where recordType.field(name) == nil {
                let fieldPath = path.isEmpty ? name : "\(path).\(name)"
                problems.append(RecordProblem(path: fieldPath, message: "unknown field; the schema declares \(fields.map(\.name).joined(separator: ", "))"))
            }
        }
        return .record(CELRecord(shape: recordType.shape, values: values))
    }
}

/// One reason a record does not fit its schema.
public struct RecordProblem: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

public struct RecordProblems: Error, Sendable, Hashable, CustomStringConvertible {
    public var problems: [RecordProblem]
    public var description: String { problems.map(\.description).joined(separator: "; ") }
}

/// Type checks and conversion of JSON values against field types.
enum RecordValidator {
    /// Problems with `value` as a `type`, without building anything (for defaults in the source).
    static func check(_ value: JSONValue, as type: FieldType, path: String) -> [RecordProblem] {
        var problems: [RecordProblem] = []
        let layout = RecordLayout.objectFields(type).map { RecordLayout(name: "default", fields: $0, unknownFields: .reject) }
        _ = convert(value, as: type, layout: layout, path: path, &problems)
        return problems
    }

    static func convert(_ json: JSONValue, as type: FieldType, layout: RecordLayout?, path: String, _ problems: inout [RecordProblem])
        -> CELValue?
    {
        func wrong(_ expected: String) -> CELValue? {
            problems.append(RecordProblem(path: path, message: "expected \(expected), found \(json.typeName)"))
            return nil
        }
        switch (type, json) {
        case (.string, .string(let s)): return .string(s)
        case (.int, .int(let i)): return .int(i)
        case (.int, .double(let d)) where d.rounded() == d && d.magnitude < 9.2e18: return .int(Int64(d))
        case (.uint, .int(let i)):
            guard i >= 0 else {
                problems.append(RecordProblem(path: path, message: "expected a uint, found the negative number \(i)"))
                return nil
            }
            return .uint(UInt64(i))
        case (.double, .double(let d)): return .double(d)
        case (.double, .int(let i)): return .double(Double(i))
        case (.bool, .bool(let b)): return .bool(b)
        case (.bytes, .string(let s)):
            guard let b = Base64.decode(s) else { return wrong("bytes as base64") }
            return .bytes(b)
        case (.timestamp, .string(let s)):
            guard let t = CELTime.parseTimestamp(s) else {
                problems.append(RecordProblem(path: path, message: "expected an RFC 3339 timestamp such as 2026-01-02T15:04:05Z, found \"\(s)\""))
                return nil
            }
            return .timestamp(t)
        case (.list(let element), .array(let items)):
            var out: [CELValue] = []
            out.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                if let v = convert(item, as: element, layout: layout, path: "\(path)[\(i)]", &problems) { out.append(v) }
            }
            return .list(out)
        case (.map(let valueType), .object(let members)):
            var map = CELMap()
            for key in members.keys.sorted() {
                if let v = convert(members[key]!, as: valueType, layout: layout, path: "\(path)[\(CELPrinter.quote(key))]", &problems) {
                    map[.string(key)] = v
                }
            }
            return .map(map)
        case (.object, _):
            guard let layout else { return wrong("an object") }
            return layout.convertObject(json, path: path, &problems)
        case (.int, _): return wrong("an int")
        case (.uint, _): return wrong("a uint")
        case (.double, _): return wrong("a number")
        case (.bool, _): return wrong("a bool")
        case (.string, _): return wrong("a string")
        case (.bytes, _): return wrong("bytes as base64")
        case (.timestamp, _): return wrong("an RFC 3339 timestamp string")
        case (.list, _): return wrong("a list")
        case (.map, _): return wrong("an object (a map)")
        }
    }

    /// A CEL value back to JSON, for migrated and normalised records.
    static func json(_ value: CELValue) -> JSONValue {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return i.magnitude <= UInt64(JSONValue.maxSafeInteger) ? .int(i) : .string(String(i))
        case .uint(let u): return u <= UInt64(JSONValue.maxSafeInteger) ? .int(Int64(u)) : .string(String(u))
        case .double(let d): return d.isFinite ? .double(d) : .string(String(d))
        case .string(let s): return .string(s)
        case .bytes(let b): return .string(Base64.encode(b))
        case .list(let l): return .array(l.map(json))
        case .map(let m):
            var object: [String: JSONValue] = [:]
            for (k, v) in m.entries {
                switch k {
                case .string(let s): object[s] = json(v)
                case .int(let i): object[String(i)] = json(v)
                case .uint(let u): object[String(u)] = json(v)
                case .bool(let b): object[String(b)] = json(v)
                }
            }
            return .object(object)
        case .record(let r):
            var object: [String: JSONValue] = [:]
            for (name, v) in r.presentFields { object[name] = json(v) }
            return .object(object)
        case .timestamp(let t): return .string(CELTime.format(t))
        case .duration(let d): return .string(CELTime.format(d))
        case .type(let t): return .string(t.name)
        }
    }
}
