import Synchronization

/// Gives a shell's tree traffic priority over the chunks it serves to pullers (DESIGN §3 step 7, issue 12).
///
/// Every puller link waits here before each chunk it writes, and only one at a time may write, so however many
/// nodes pull at once (an orphan wave, a stalled subtree fetching) they share about one flow's worth of the
/// uplink, and the links pushing down the stripe trees keep the rest. Waiters are served in arrival order.
public final class PullGate: Sendable {
    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Waits for the turn to write one chunk to a puller; call `release()` after writing it.
    public func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let runNow = state.withLock { s -> Bool in
                if !s.busy {
                    s.busy = true
                    return true
                }
                s.waiters.append(continuation)
                return false
            }
            if runNow { continuation.resume() }
        }
    }

    public func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.busy = false
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}
