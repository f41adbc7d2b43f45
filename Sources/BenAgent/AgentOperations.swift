public import BenMetrics
import Synchronization

/// What the agent's shell keeps for operations only (metrics), apart from its protocol state: when each compile
/// began, for the swap latency; the size of the chunk each link wrote last, for the bytes-sent counter.
///
/// A class with its own lock because the frame writer (`materialize`, off the actor) and the actor both touch
/// it; nothing in it feeds a protocol decision.
public final class AgentOperations: Sendable {
    /// Places nodes in the topology, for the `tier` label (`TierMap()`: every tier `unknown`).
    public let tiers: TierMap

    private struct State {
        var compileStarted: [UInt64: ContinuousClock.Instant] = [:]
        /// Chunk index → bytes of the chunk frame materialized last for it. A chunk frame is materialized just
        /// before it is written, and `chunkWritten` for it follows, so this is the size of the chunk just written.
        var chunkBytes: [Int: Int] = [:]
    }

    private let state = Mutex(State())

    public init(tiers: TierMap = TierMap()) {
        self.tiers = tiers
    }

    func compileStarted(_ version: UInt64) {
        state.withLock { $0.compileStarted[version] = ContinuousClock.now }
    }

    /// The time since the version's compile began, if it was timed.
    func swapped(_ version: UInt64) -> Duration? {
        state.withLock { $0.compileStarted.removeValue(forKey: version) }.map { ContinuousClock.now - $0 }
    }

    func materialized(chunk index: Int, bytes: Int) {
        state.withLock { $0.chunkBytes[index] = bytes }
    }

    func bytesOfChunk(_ index: Int) -> Int {
        state.withLock { $0.chunkBytes[index] ?? 0 }
    }
}
