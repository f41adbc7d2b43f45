import CNats
import Foundation

/// Runs libnats's blocking calls on threads of their own, never on Swift's cooperative pool.
///
/// Why: libnats 3.4.1 has no asynchronous request, JetStream publish-with-ack, stream management or flush; each
/// blocks its calling thread until the server answers or a timeout passes (seconds, when a server is away). The
/// cooperative pool has one thread per core (two on a small machine), so a few such calls there would stall
/// every task in the process. Reimplementing request/reply on top of an inbox subscription would avoid the
/// threads but would also reimplement what libnats already gets right (its response multiplexer, "no
/// responders", failing requests on disconnect), and JetStream's synchronous API has no asynchronous
/// counterpart with per-call results anyway.
///
/// So each blocking call is handed to this small pool: it keeps a few idle threads for reuse (a request costs a
/// condition-variable wake-up, not a thread start) and starts another thread whenever every thread is busy, so
/// a call never queues behind another call's timeout. The awaiting task is suspended, not blocked, and resumes
/// when the call returns. A call cannot be interrupted once started; every blocking call BenNATS makes is
/// bounded by a timeout.
///
/// Calls that do not wait for the server (publish, subscribe, unsubscribe) run inline on the caller's thread:
/// libnats only appends to a buffer or writes to the socket for them.
final class BlockingCalls: @unchecked Sendable {
    // Every mutable field below is guarded by `condition`'s lock.
    private let condition = NSCondition()
    private var jobs: [(@Sendable () -> Void)?] = []
    private var head = 0
    private var idleThreads = 0
    private let maxIdleThreads: Int
    private let idleTimeout: TimeInterval

    static let shared = BlockingCalls(maxIdleThreads: 8, idleTimeout: 30)

    init(maxIdleThreads: Int, idleTimeout: TimeInterval) {
        self.maxIdleThreads = maxIdleThreads
        self.idleTimeout = idleTimeout
    }

    /// Runs `body` on a pool thread and returns its result to the awaiting task.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws(NATSError) -> T) async throws(NATSError) -> T {
        let result: Result<T, NATSError> = await withCheckedContinuation { continuation in
            submit {
                do throws(NATSError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// The next job, waiting for one while idle; nil when this thread should end (idle too long, or enough
    /// other threads are idle already).
    private func nextJob() -> (@Sendable () -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if head < jobs.count {
                let job = jobs[head].take()
                head += 1
                if head == jobs.count {
                    // Only empty slots are released here: the jobs themselves left the array above.
                    jobs.removeAll(keepingCapacity: true)
                    head = 0
                }
                return job
            }
            if idleThreads >= maxIdleThreads { return nil }
            idleThreads += 1
            let signalled = condition.wait(until: Date(timeIntervalSinceNow: idleTimeout))
            idleThreads -= 1
            if !signalled && head >= jobs.count { return nil }
        }
    }

    /// Runs `job` on a pool thread without waiting for it.
    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        let pending = jobs.count - head
        let wake = idleThreads >= pending
        if wake { condition.signal() }
        condition.unlock()
        if !wake {
            let thread = Thread { [self] in work() }
            thread.name = "ben.nats.blocking"
            thread.start()
        }
    }

    private func work() {
        while let job = nextJob() {
            job()
            // `job` is released here, outside the lock: releasing it may run a deinit that submits a job.
        }
        // libnats keeps per-thread error state; a thread it did not create must release it before it ends.
        nats_ReleaseThreadMemory()
    }
}
