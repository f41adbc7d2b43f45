import Atomics

/// The hot-swap holder: one reference to the compiled intent a node runs, replaced atomically.
///
/// Readers load the reference (lock-free, never waiting on a writer or a compile) and evaluate against the
/// value they loaded, so every result comes from exactly one version. A writer compiles the next version
/// first, off the hot path, and only then swaps; the previous version is freed when its last reader lets go.
public final class ActiveIntent: Sendable {
    final class Box: AtomicReference, Sendable {
        let intent: CompiledIntent
        init(_ intent: CompiledIntent) { self.intent = intent }
    }

    private let current: ManagedAtomic<Box>

    public init(_ initial: CompiledIntent) {
        current = ManagedAtomic(Box(initial))
    }

    /// The version in force now. Hold on to the value for the length of one request.
    public var intent: CompiledIntent { current.load(ordering: .acquiring).intent }

    /// Puts `next` in force and returns the version it replaced.
    @discardableResult
    public func swap(to next: CompiledIntent) -> CompiledIntent {
        current.exchange(Box(next), ordering: .acquiringAndReleasing).intent
    }
}
