/// A value with one canonical JSON form (RFC 8785), whose bytes are signed or hashed. It is built from validated
/// values, so encoding it cannot fail.
public protocol CanonicalJSONConvertible {
    /// The value's name in messages ("ack", "manifest", "topology").
    static var documentName: String { get }
    /// The value as JSON; its canonical bytes are what gets signed or hashed.
    var json: JSONValue { get }
}

extension CanonicalJSONConvertible {
    /// The canonical bytes: equal values always give equal bytes.
    public var canonicalBytes: [UInt8] {
        do {
            return try CanonicalJSON.encode(json)
        } catch {
            preconditionFailure("\(Self.documentName) holds a value JSON cannot carry: \(error)")
        }
    }

    /// The canonical bytes as text (they are UTF-8).
    public var canonicalString: String { String(decoding: canonicalBytes, as: UTF8.self) }
}

/// A document whose bytes are signed or hashed: it has one canonical JSON form (RFC 8785) and a strict reader.
public protocol CanonicalDocument: CanonicalJSONConvertible, Sendable, Hashable {
    /// Input longer than this is refused before it is parsed.
    static var maxBytes: Int { get }
    /// Reads the document from an object, refusing unknown fields and naming the first bad one.
    init(reading reader: FieldReader) throws(DocumentError)
    /// The member names `init(reading:)` accepts.
    static var fields: Set<String> { get }
}

extension CanonicalDocument {
    /// Reads the document from a JSON value with `init(reading:)`, refusing members not in `fields`; errors name
    /// the document and the field under `path`.
    public init(json: JSONValue, path: String = "") throws(DocumentError) {
        try self.init(reading: FieldReader(json, document: Self.documentName, path: path, allowed: Self.fields))
    }

    /// Parses and reads a document from bytes, refusing oversize input unread.
    public static func decode(_ bytes: some Collection<UInt8>, maxBytes: Int = Self.maxBytes) throws(DocumentError)
        -> Self
    {
        try Self(json: try parseDocumentJSON(bytes, document: documentName, maxBytes: maxBytes))
    }
}

/// Parses untrusted bytes into JSON for a named document, turning size and syntax problems into
/// `DocumentError`s.
public func parseDocumentJSON(_ bytes: some Collection<UInt8>, document: String, maxBytes: Int) throws(DocumentError)
    -> JSONValue
{
    guard bytes.count <= maxBytes else {
        throw DocumentError(
            document: document, field: "", code: .tooLarge,
            detail: "\(bytes.count) bytes is over the \(maxBytes)-byte limit; refused unread")
    }
    do {
        return try JSONParser.parse(bytes, limits: .init(maxBytes: maxBytes))
    } catch {
        throw DocumentError(document: document, field: "", code: .syntax, detail: error.description)
    }
}
