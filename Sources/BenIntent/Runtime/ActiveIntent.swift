import Atomics
import Synchronization

/// The hot-swap holder: one reference to the compiled intent a node runs, replaced atomically.
///
/// Readers load the reference (lock-free, never waiting on a writer or a compile) and evaluate against the
/// version they loaded, so every result comes from exactly one version. A writer compiles the next version
/// first, off the hot path, and only then swaps. Swapped-out versions are kept by the holder for a few
/// more swaps and released by the writer, so a reader that finishes a request on an old version almost
/// never pays for freeing it.
public final class ActiveIntent: Sendable {
    final class Box: AtomicReference, Sendable {
        let intent: CompiledIntent
        init(_ intent: CompiledIntent) { self.intent = intent }
    }

    private let current: ManagedAtomic<Box>
    /// Touched only by writers, never by readers.
    private let retired = Mutex<[CompiledIntent]>([])
    /// How many swapped-out versions the holder keeps before releasing the oldest.
    public static let retiredVersionsKept = 4

    public init(_ initial: CompiledIntent) {
        current = ManagedAtomic(Box(initial))
    }

    /// The version in force now. Hold on to it for the length of one request.
    public var intent: CompiledIntent { current.load(ordering: .acquiring).intent }

    /// Puts `next` in force and returns the version it replaced.
    @discardableResult
    public func swap(to next: CompiledIntent) -> CompiledIntent {
        let previous = current.exchange(Box(next), ordering: .acquiringAndReleasing).intent
        let released: [CompiledIntent] = retired.withLock { list in
            list.append(previous)
            guard list.count > Self.retiredVersionsKept else { return [] }
            let old = Array(list.prefix(list.count - Self.retiredVersionsKept))
            list.removeFirst(old.count)
            return old
        }
        _ = released  // freed here, on the writer, when this array goes
        return previous
    }
}
