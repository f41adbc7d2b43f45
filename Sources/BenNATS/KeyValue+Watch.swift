import CNats
import Foundation

extension KeyValue {
    /// Every value `key` holds from now on, in the order the server stored them: its current value first (if it
    /// has one), then each write as it is stored (libnats's `kvStore_Watch`, an ordered JetStream consumer, so
    /// no stored write is skipped however fast they come). Deletions arrive too (`isDeleted`); a value the
    /// bucket's TTL removed does not.
    ///
    /// The sequence ends when the task iterating it is cancelled or stops iterating, or the connection closes.
    public func watch(_ key: String) async throws(NATSError) -> AsyncStream<KeyValueEntry> {
        let handle = self.handle
        let operation = "watch \(key) in key-value bucket \(bucket)"
        let watcher = try await BlockingCalls.shared.run { () throws(NATSError) -> KeyValueWatcher in
            var pointer: OpaquePointer?
            try NATSLibrary.check(kvStore_Watch(&pointer, handle.pointer, key, nil), operation)
            return KeyValueWatcher(pointer: pointer!, store: handle)
        }
        let (stream, continuation) = AsyncStream<KeyValueEntry>.makeStream()
        continuation.onTermination = { _ in watcher.stop() }
        // kvWatcher_Next blocks for as long as nothing is written: a thread of its own, never a pool thread.
        let thread = Thread { watcher.deliver(to: continuation) }
        thread.name = "ben.nats.kv-watch"
        thread.start()
        return stream
    }
}

/// Owns one `kvWatcher *` and the thread that reads it.
///
/// `@unchecked Sendable` is safe: `pointer` never changes; `kvWatcher_Next` is only called from the delivering
/// thread, `kvWatcher_Stop` (thread-safe in libnats, it wakes `Next`) from any; `stopped` is behind a lock; the
/// watcher is destroyed in `deinit`, after the delivering thread let go of it.
final class KeyValueWatcher: @unchecked Sendable {
    let pointer: OpaquePointer
    let store: KeyValueHandle
    private let stopped = Locked(false)

    init(pointer: OpaquePointer, store: KeyValueHandle) {
        self.pointer = pointer
        self.store = store
    }

    func deliver(to continuation: AsyncStream<KeyValueEntry>.Continuation) {
        while !stopped.withLock({ $0 }) {
            var entry: OpaquePointer?
            let status = kvWatcher_Next(&entry, pointer, 250)
            if status == NATS_TIMEOUT { continue }
            guard status == NATS_OK else { break }
            // A nil entry marks "every current value delivered"; the watch goes on with new writes.
            if let entry {
                continuation.yield(KeyValueEntry(copying: entry))
                kvEntry_Destroy(entry)
            }
        }
        continuation.finish()
        nats_ReleaseThreadMemory()
    }

    func stop() {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        if first { kvWatcher_Stop(pointer) }
    }

    deinit { kvWatcher_Destroy(pointer) }
}
