/// The topologies a service gossips on, as they come: the first one it knows, then each newer one. Every one
/// restarts gossip: the shell of the one before is stopped, then a shell on the new one is started. Only the
/// newest waiting directory is kept, so a burst of topology changes starts one shell, on the last.
///
/// The agent and the ledger each hold one; they differ only in how a directory becomes a shell.
public struct GossipRestarts: Sendable {
    let directories: AsyncStream<GossipDirectory>
    let sink: AsyncStream<GossipDirectory>.Continuation

    public init() {
        (directories, sink) = AsyncStream<GossipDirectory>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Gossip is to run on `directory` from now on.
    public func restart(on directory: GossipDirectory) {
        sink.yield(directory)
    }

    /// With gossip off: returns only when the service stops (its task group ends the service when any member
    /// returns), starting nothing.
    public func idle() async {
        for await _ in directories {}
    }

    /// Runs gossip until the service stops: for each directory, stops the current shell, then serves the one `start`
    /// makes (none when it returns nil), handing its events to `events`. `alongside`, if given, runs beside each
    /// shell and is cancelled when that shell is stopped.
    public func run(
        start: @escaping @Sendable (GossipDirectory) async -> GossipShell?,
        events: @escaping @Sendable (GossipShell.Event) async -> Void,
        alongside: (@Sendable (GossipShell) async -> Void)? = nil
    ) async {
        let directories = directories
        var stopCurrent: [AsyncStream<Void>.Continuation] = []
        await withTaskGroup(of: Void.self) { group in
            for await directory in directories {
                for stopper in stopCurrent { stopper.finish() }
                stopCurrent = []
                guard let shell = await start(directory) else { continue }
                // One stop signal per task: a stream has one reader.
                let (stop, stopper) = AsyncStream<Void>.makeStream()
                stopCurrent.append(stopper)
                group.addTask { await shell.serve(until: stop, handle: events) }
                guard let alongside else { continue }
                let (stopAlongside, alongsideStopper) = AsyncStream<Void>.makeStream()
                stopCurrent.append(alongsideStopper)
                group.addTask {
                    await withTaskGroup(of: Void.self) { beside in
                        beside.addTask { await alongside(shell) }
                        beside.addTask { for await _ in stopAlongside {} }
                        _ = await beside.next()
                        beside.cancelAll()
                    }
                }
            }
            for stopper in stopCurrent { stopper.finish() }
        }
    }
}
