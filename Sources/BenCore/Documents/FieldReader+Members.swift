extension FieldReader {
    /// The object member `name`, as a reader of this document that refuses members not in `allowed`; errors name
    /// the member's path.
    public func object(_ name: String, allowed: Set<String>) throws(DocumentError) -> FieldReader {
        try FieldReader(try value(name), document: document, path: fieldPath(name), allowed: allowed)
    }

    /// The array member `name` of objects, at most `maxCount`, each read by `read` through a reader of this
    /// document that refuses members not in `allowed`; errors name the element's indexed path.
    public func objects<T>(
        _ name: String, maxCount: Int = .max, allowed: Set<String>, _ read: (FieldReader) throws(DocumentError) -> T
    ) throws(DocumentError) -> [T] {
        let document = self.document
        return try elements(name, maxCount: maxCount) { (value, path) throws(DocumentError) -> T in
            try read(try FieldReader(value, document: document, path: path, allowed: allowed))
        }
    }
}

extension FieldReader {
    /// The string member `name`, refused when it is longer than `maxBytes` bytes of UTF-8 (a reason, a detail: text
    /// a signer may send but not without bound).
    public func string(_ name: String, maxBytes: Int) throws(DocumentError) -> String {
        let text = try string(name)
        guard text.utf8.count <= maxBytes else { throw error(name, .invalidValue, "longer than \(maxBytes) bytes") }
        return text
    }
}
