import Synchronization

/// A process-wide cap on upload bandwidth (DESIGN §8's model: each node's upload is capped at B), shared by all
/// of a process's links: a relay with four children sends each chunk four times within one budget.
///
/// Each chunk reserves the next free slot of `bytes / rate` seconds, and the writer waits until its slot ends
/// before handing the chunk to the socket, so on loopback a capped node behaves like one behind a slower NIC.
///
/// The daemons read `--upload-limit` with BenTopology's `Bandwidth(parsing:)`, the parser of the topology file's
/// `uplink`, so a rate is spelt one way everywhere.
public final class UploadLimiter: Sendable {
    public let bytesPerSecond: Double
    /// Nanoseconds (on the suspending clock's timeline) when the link is next free.
    private let nextFree = Mutex<ContinuousClock.Instant?>(nil)

    public init(bytesPerSecond: Double) {
        precondition(bytesPerSecond > 0)
        self.bytesPerSecond = bytesPerSecond
    }

    /// Waits until `bytes` may go out.
    public func acquire(_ bytes: Int) async {
        let duration = Duration.nanoseconds(Int64(Double(bytes) / bytesPerSecond * 1e9))
        let now = ContinuousClock.now
        let end = nextFree.withLock { next -> ContinuousClock.Instant in
            let start = max(now, next ?? now)
            next = start + duration
            return start + duration
        }
        try? await Task.sleep(until: end, clock: .continuous)
    }
}
