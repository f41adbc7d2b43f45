/// Why a document (manifest, announcement, ack, aggregate, plan, envelope) was refused.
///
/// It names the document and the field by its path (`artifacts[2].chunks[0]`), so that whoever reads the
/// log knows which byte to look at.
public struct DocumentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of refusal; the raw value is the word logs and replies carry.
    public enum Code: String, Sendable, Hashable {
        /// The input was over the document's byte limit and was not read.
        case tooLarge = "too_large"
        /// The input is not JSON, or breaks the parser's limits.
        case syntax
        /// A required member is absent.
        case missingField = "missing_field"
        /// A member has the wrong JSON type.
        case wrongType = "wrong_type"
        /// A member has the right type but a value the document does not allow.
        case invalidValue = "invalid_value"
        /// A member the document does not define; signed documents are never half-read.
        case unknownField = "unknown_field"
    }

    /// Which document was refused (`manifest`, `ack`, …).
    public var document: String
    /// Dotted path of the field, empty for the document as a whole.
    public var field: String
    /// The kind of refusal.
    public var code: Code
    /// What is wrong, in words.
    public var detail: String

    /// One line: `document: field F: detail`, or `document: detail` for the whole document.
    public var description: String {
        field.isEmpty ? "\(document): \(detail)" : "\(document): field \(field): \(detail)"
    }
}

/// Reads one JSON object field by field, with the path of every field at hand for errors.
///
/// Unknown members are refused when the reader is made: a signed document with a field this version does not
/// understand must not be half-read and trusted.
public struct FieldReader: Sendable {
    /// The document name every error from this reader carries.
    public let document: String
    /// Where this object sits in the document (`artifacts[2]`); empty at the top.
    public let path: String
    /// The object's members, every one of them allowed.
    public let members: [String: JSONValue]

    /// A reader of `value`, which must be an object with no member outside `allowed`. The first unknown member (by
    /// name) is the error, so the same document always gets the same error.
    public init(_ value: JSONValue, document: String, path: String = "", allowed: Set<String>) throws(DocumentError) {
        guard case .object(let members) = value else {
            throw DocumentError(
                document: document, field: path, code: .wrongType, detail: "expected an object, found \(value.typeName)")
        }
        for name in members.keys.sorted() where !allowed.contains(name) {
            throw DocumentError(
                document: document, field: Self.join(path, name), code: .unknownField,
                detail: "unknown field; expected one of \(allowed.sorted().joined(separator: ", "))")
        }
        self.document = document
        self.path = path
        self.members = members
    }

    static func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    /// The path of member `name`: `path.name`, or `name` at the top.
    public func fieldPath(_ name: String) -> String { Self.join(path, name) }

    /// An error about member `name`, with its full path and the document's name.
    public func error(_ name: String, _ code: DocumentError.Code, _ detail: String) -> DocumentError {
        DocumentError(document: document, field: fieldPath(name), code: code, detail: detail)
    }

    /// The member `name`, whatever its type; missing is an error.
    public func value(_ name: String) throws(DocumentError) -> JSONValue {
        guard let v = members[name] else { throw error(name, .missingField, "required field is missing") }
        return v
    }

    /// Whether the object has the member `name` (for optional members).
    public func has(_ name: String) -> Bool { members[name] != nil }

    /// The string member `name`; missing or another type is an error.
    public func string(_ name: String) throws(DocumentError) -> String {
        let v = try value(name)
        guard case .string(let s) = v else { throw error(name, .wrongType, "expected string, found \(v.typeName)") }
        return s
    }

    /// The boolean member `name`; missing or another type is an error.
    public func bool(_ name: String) throws(DocumentError) -> Bool {
        let v = try value(name)
        guard case .bool(let b) = v else { throw error(name, .wrongType, "expected boolean, found \(v.typeName)") }
        return b
    }

    /// The integer member `name` within `range` (0 to 2^53 unless given); a double, even an integral one, is an
    /// error.
    public func int(_ name: String, in range: ClosedRange<Int64> = 0...JSONValue.maxSafeInteger) throws(DocumentError)
        -> Int64
    {
        let v = try value(name)
        guard case .int(let i) = v else {
            throw error(name, .wrongType, "expected an integer, found \(v.typeName)")
        }
        guard range.contains(i) else {
            throw error(name, .invalidValue, "\(i) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return i
    }

    /// The key member `name`, in its one spelling (64 lowercase hex digits).
    public func key(_ name: String) throws(DocumentError) -> Key {
        let s = try string(name)
        guard let k = Key(hex: s) else { throw error(name, .invalidValue, "expected 64 lowercase hex digits (a key)") }
        return k
    }

    /// The RFC 3339 time member `name`.
    public func timestamp(_ name: String) throws(DocumentError) -> Timestamp {
        let s = try string(name)
        guard let t = Timestamp(rfc3339: s) else {
            throw error(name, .invalidValue, "expected an RFC 3339 time such as 2026-11-27T02:31:13.000Z")
        }
        return t
    }

    /// The version member `name`: an integer from 1 (a document never names version 0).
    public func version(_ name: String) throws(DocumentError) -> Version {
        Version(UInt64(try int(name, in: 1...JSONValue.maxSafeInteger)))
    }

    /// The fleet-name member `name`, valid by `FleetName.rule`.
    public func fleet(_ name: String) throws(DocumentError) -> FleetName {
        let s = try string(name)
        guard let f = FleetName(s) else { throw error(name, .invalidValue, "fleet name must be \(FleetName.rule)") }
        return f
    }

    /// The node-id member `name`, valid by `NodeID.rule`.
    public func node(_ name: String) throws(DocumentError) -> NodeID {
        let s = try string(name)
        guard let n = NodeID(s) else { throw error(name, .invalidValue, "node id must be \(NodeID.rule)") }
        return n
    }

    /// The array member `name`, with at most `maxCount` elements.
    public func array(_ name: String, maxCount: Int = .max) throws(DocumentError) -> [JSONValue] {
        let v = try value(name)
        guard case .array(let a) = v else { throw error(name, .wrongType, "expected array, found \(v.typeName)") }
        guard a.count <= maxCount else { throw error(name, .invalidValue, "more than \(maxCount) elements") }
        return a
    }

    /// Decodes every element of an array field with `read`, giving each its indexed path.
    public func elements<T>(
        _ name: String, maxCount: Int = .max, _ read: (JSONValue, String) throws(DocumentError) -> T
    ) throws(DocumentError) -> [T] {
        let array = try self.array(name, maxCount: maxCount)
        var out: [T] = []
        out.reserveCapacity(array.count)
        for (i, element) in array.enumerated() {
            out.append(try read(element, "\(fieldPath(name))[\(i)]"))
        }
        return out
    }

    /// An array of strings, each passed through `parse`; nil from `parse` is an error naming `expected`.
    public func strings<T>(_ name: String, maxCount: Int = .max, expected: String, _ parse: (String) -> T?)
        throws(DocumentError) -> [T]
    {
        let doc = document
        return try elements(name, maxCount: maxCount) { (value, path) throws(DocumentError) -> T in
            guard case .string(let s) = value, let t = parse(s) else {
                throw DocumentError(document: doc, field: path, code: .invalidValue, detail: "expected \(expected)")
            }
            return t
        }
    }
}
