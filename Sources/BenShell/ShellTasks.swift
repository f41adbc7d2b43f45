import Synchronization

/// Child tasks for a shell actor that must start work (a connection, a timer, a compile) while it handles an
/// event, without unstructured tasks: the actor hands each job to `spawn`, and the service's `run` owns them as
/// children of one task group, so none outlives the service.
public final class ShellTasks: Sendable {
    public typealias Job = @Sendable () async -> Void

    private let stream: AsyncStream<Job>
    private let continuation: AsyncStream<Job>.Continuation

    public init() {
        (stream, continuation) = AsyncStream<Job>.makeStream()
    }

    /// Runs `job` as a child of `run()`. After `finish()`, jobs are dropped.
    public func spawn(_ job: @escaping Job) {
        continuation.yield(job)
    }

    /// Runs every spawned job until `finish()` is called and the running ones end (or the task is cancelled,
    /// which cancels them all).
    public func run() async {
        await withDiscardingTaskGroup { group in
            for await job in stream {
                group.addTask { await job() }
            }
        }
    }

    public func finish() { continuation.finish() }
}
