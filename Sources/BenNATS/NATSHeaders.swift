import CNats
import Glibc

/// A message's headers: names with one or more values each, in the order they were added. Names are case
/// sensitive, as in libnats 3.
public struct NATSHeaders: Sendable, Hashable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public struct Entry: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { append(value, for: name) }
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// The first value under `name`, or nil.
    public subscript(name: String) -> String? {
        get { entries.first { $0.name == name }?.value }
        set {
            if let newValue { set(newValue, for: name) } else { entries.removeAll { $0.name == name } }
        }
    }

    /// Every value under `name`, in order.
    public func values(for name: String) -> [String] { entries.filter { $0.name == name }.map(\.value) }

    /// Adds a value under `name`, after any it already has.
    public mutating func append(_ value: String, for name: String) { entries.append(Entry(name: name, value: value)) }

    /// Replaces every value under `name` with `value`.
    public mutating func set(_ value: String, for name: String) {
        entries.removeAll { $0.name == name }
        append(value, for: name)
    }

    public var description: String { entries.map { "\($0.name): \($0.value)" }.joined(separator: ", ") }

    /// Copies the headers of a libnats message.
    init(copying message: OpaquePointer) {
        var keys: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        var keyCount: Int32 = 0
        guard natsMsgHeader_Keys(message, &keys, &keyCount) == NATS_OK, let keys else { return }
        defer { free(UnsafeMutableRawPointer(mutating: keys)) }
        for i in 0..<Int(keyCount) {
            guard let key = keys[i] else { continue }
            var values: UnsafeMutablePointer<UnsafePointer<CChar>?>?
            var valueCount: Int32 = 0
            guard natsMsgHeader_Values(message, key, &values, &valueCount) == NATS_OK, let values else { continue }
            let name = String(cString: key)
            for j in 0..<Int(valueCount) { append(values[j].map { String(cString: $0) } ?? "", for: name) }
            free(UnsafeMutableRawPointer(mutating: values))
        }
    }

    /// Adds these headers to a libnats message being built.
    func add(to message: OpaquePointer, operation: @autoclosure () -> String) throws(NATSError) {
        for entry in entries {
            try NATSLibrary.check(
                natsMsgHeader_Add(message, entry.name, entry.value), "\(operation()): header \(entry.name)")
        }
    }
}
