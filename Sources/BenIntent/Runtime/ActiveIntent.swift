import Atomics
public import BenCore
import Synchronization

/// The hot-swap holder: one reference to the compiled intent a node runs, and the version it came in, replaced
/// atomically so that the two never disagree.
///
/// Readers load the reference (lock-free, never waiting on a writer or a compile) and evaluate against the
/// version they loaded, so every result comes from exactly one version. A writer compiles the next version
/// first, off the hot path, and only then swaps. Swapped-out versions are kept by the holder for a few
/// more swaps and released by the writer, so a reader that finishes a request on an old version almost
/// never pays for freeing it.
///
/// An agent starts with nothing in force (`init()`) until its first activation; an embedding component or a
/// benchmark may start with an intent of no version (`init(_:)`).
public final class ActiveIntent: Sendable {
    final class Box: AtomicReference, Sendable {
        let intent: CompiledIntent
        let version: Version
        init(_ intent: CompiledIntent, _ version: Version) {
            self.intent = intent
            self.version = version
        }
    }

    private let slot: ManagedAtomic<Box?>
    /// Touched only by writers, never by readers.
    private let retired = Mutex<[CompiledIntent]>([])
    /// How many swapped-out versions the holder keeps before releasing the oldest.
    public static let retiredVersionsKept = 4

    /// A holder with nothing in force yet.
    public init() {
        slot = ManagedAtomic(nil)
    }

    /// A holder with `initial` in force, as version `version` (`.none`, 0, when it came in no bundle).
    public init(_ initial: CompiledIntent, version: Version = .none) {
        slot = ManagedAtomic(Box(initial, version))
    }

    /// The intent in force and its version, or nil before the first swap. Hold on to it for the length of one
    /// request.
    public var current: (intent: CompiledIntent, version: Version)? {
        slot.load(ordering: .acquiring).map { ($0.intent, $0.version) }
    }

    /// The intent in force now. Hold on to it for the length of one request.
    ///
    /// - Precondition: an intent is in force (the holder was made with one, or has been swapped since).
    public var intent: CompiledIntent {
        guard let box = slot.load(ordering: .acquiring) else { preconditionFailure("no intent is in force yet") }
        return box.intent
    }

    /// Puts `next` in force, as version `version`, and returns the intent it replaced (nil for the first).
    @discardableResult
    public func swap(to next: CompiledIntent, version: Version = .none) -> CompiledIntent? {
        guard let previous = slot.exchange(Box(next, version), ordering: .acquiringAndReleasing)?.intent else { return nil }
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
