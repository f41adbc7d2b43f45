import Synchronization

/// A process-wide cap on upload bandwidth (DESIGN §8's model: each node's upload is capped at B), shared by all
/// of a process's links: a relay with four children sends each chunk four times within one budget.
///
/// Each chunk reserves the next free slot of `bytes / rate` seconds, and the writer waits until its slot ends
/// before handing the chunk to the socket, so on loopback a capped node behaves like one behind a slower NIC.
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

    /// Parses a rate such as `100Mbit`, `12.5MB` (bytes), `1Gbit`; nil if unreadable.
    public static func parseRate(_ text: String) -> Double? {
        let lower = text.lowercased()
        let units: [(String, Double)] = [
            ("gbit", 1e9 / 8), ("mbit", 1e6 / 8), ("kbit", 1e3 / 8), ("gb", 1e9), ("mb", 1e6), ("kb", 1e3), ("b", 1),
        ]
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            guard let value = Double(lower.dropLast(suffix.count)), value > 0 else { return nil }
            return value * factor
        }
        return Double(lower).flatMap { $0 > 0 ? $0 : nil }
    }
}
