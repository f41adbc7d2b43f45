public import BenCore
import Glibc

/// What went wrong in a chunk store, in terms of the key and the file involved.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The object's bytes no longer hash to its key; it has been moved to quarantine and will not be served.
    case corrupt(key: Key, quarantinedAt: String)
    case notFound(key: Key)
    /// Bytes offered under a key do not hash to it (a tampered or truncated chunk).
    case keyMismatch(expected: Key, actual: Key)
    case io(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .corrupt(let key, let at):
            "object \(key.hex) is corrupt (its bytes no longer match its key); quarantined at \(at) and not served"
        case .notFound(let key):
            "object \(key.hex) is not in the store"
        case .keyMismatch(let expected, let actual):
            "bytes offered as \(expected.hex) hash to \(actual.hex); refused"
        case .io(let path, let operation, let code):
            "\(path): cannot \(operation): \(String(cString: strerror(code)))"
        }
    }
}
