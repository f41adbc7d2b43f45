public import BenCore

/// The timers a shell arms for its machine. Arming a timer again supersedes the earlier arming and a cancelled
/// timer never fires: each arming gets a token, and only a firing that presents the live token counts.
public struct ShellTimers<Timer: Hashable & Sendable>: Sendable {
    private var armed: [Timer: UInt64] = [:]
    private var lastToken: UInt64 = 0

    public init() {}

    /// Arms `timer` and returns the token its firing must present.
    public mutating func arm(_ timer: Timer) -> UInt64 {
        lastToken += 1
        armed[timer] = lastToken
        return lastToken
    }

    public mutating func cancel(_ timer: Timer) {
        armed[timer] = nil
    }

    /// Whether a firing with `token` is the live arming of `timer`; if so the timer is spent.
    public mutating func fire(_ timer: Timer, token: UInt64) -> Bool {
        guard armed[timer] == token else { return false }
        armed[timer] = nil
        return true
    }
}

extension ShellTasks {
    /// Runs `job` when the system clock reaches `at` (or at once if the service is stopping).
    public func run(at: Timestamp, _ job: @escaping Job) {
        spawn {
            try? await Task.sleep(for: SystemClock.delay(until: at))
            await job()
        }
    }
}
