import Foundation

/// A value reached only under a lock.
///
/// Not `Synchronization.Mutex`: on Linux that is a raw futex, which ThreadSanitizer cannot see, so every
/// access from libnats's threads would be reported as a race and real races would hide among them. This is a
/// pthread mutex (`NSLock`), which the sanitizer understands; BenNATS runs clean under `--sanitize=thread`.
///
/// `@unchecked Sendable` is safe: `value` is only read or written inside `withLock`, under `lock`.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
