import Foundation
import Subprocess
import Synchronization
import SystemPackage

/// A process running in the background for the length of a test (a daemon it signals, restarts and reads the log
/// of), through swift-subprocess.
///
/// swift-subprocess keeps a child inside the scope of one `run` call, while a test holds its daemons across awaits:
/// so a detached task holds that call from the spawn until the process ends, and records how it ended. When the
/// test lets go of it, a process still running is killed (SIGKILL), and `deinit` returns once it has ended.
public final class BackgroundProcess: Sendable {
    public let pid: Int32
    public let logPath: String
    private let lifetime: Lifetime

    /// Starts `executable` with its standard output and error appended to `logPath` and its input empty.
    ///
    /// - Parameters:
    ///   - environment: added to this process's.
    ///   - append: keep what an earlier process wrote to `logPath` (a restarted daemon's log continues).
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, logPath: String, append: Bool = false
    ) async throws {
        self.logPath = logPath
        let options: FileDescriptor.OpenOptions = append ? [.create, .append, .closeOnExec] : [.create, .truncate, .append, .closeOnExec]
        let output = try FileDescriptor.open(logPath, .writeOnly, options: options, permissions: [.ownerReadWrite, .groupRead, .otherRead])
        let errors: FileDescriptor
        do { errors = try output.duplicate() } catch {
            try? output.close()
            throw error
        }
        var overrides: [Environment.Key: String?] = [:]
        for (name, value) in environment ?? [:] { overrides[Environment.Key(stringLiteral: name)] = value }
        let inherited = Environment.inherit.updating(overrides)
        let lifetime = Lifetime()
        self.lifetime = lifetime
        pid = try await withCheckedThrowingContinuation { started in
            Task.detached {
                let spawned = Atomic<Int32>(0)
                do {
                    let result = try await Subprocess.run(
                        .path(FilePath(executable)), arguments: Arguments(arguments), environment: inherited, input: .none,
                        output: .fileDescriptor(output, closeAfterSpawningProcess: true),
                        error: .fileDescriptor(errors, closeAfterSpawningProcess: true)
                    ) { execution in
                        spawned.store(execution.processIdentifier.value, ordering: .relaxed)
                        started.resume(returning: execution.processIdentifier.value)
                    }
                    lifetime.end(ProcessRunner.status(result.terminationStatus))
                } catch {
                    let pid = spawned.load(ordering: .relaxed)
                    guard pid > 0 else { return started.resume(throwing: error) }
                    // swift-subprocess lost track of a process it started: it still runs until it ends.
                    lifetime.end(await Self.reap(pid))
                }
            }
        }
    }

    public var isRunning: Bool { lifetime.status == nil }

    /// Waits for `pid` to end and reaps it, for a process swift-subprocess no longer watches: its exit status, or
    /// the signal that ended it (as `ProcessRunner.status`); -1 if something else reaped it.
    private static func reap(_ pid: Int32) async -> Int32 {
        while true {
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG) != 0 {
                if errno == EINTR { continue }
                return -1
            }
            let child = info._sifields._sigchld
            if child.si_pid == pid { return child.si_status }
            try? await Task.sleep(for: .milliseconds(50))  // the poll's pacing: this path has no event to wait on
        }
    }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the process to end; returns its exit status (the signal's number if a signal ended it), or nil if
    /// it is still running after `timeout`.
    public func wait(timeout: Duration) async -> Int32? {
        await withTaskGroup(of: Int32?.self) { group in
            group.addTask { await self.lifetime.ended() }
            group.addTask {
                try? await Task.sleep(for: timeout)  // the deadline the end races, not a wait for it
                return nil
            }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit {
        guard isRunning else { return }
        kill(pid, SIGKILL)
        // Until it has ended (without reaping it: swift-subprocess does), so that nothing it held outlives the test's
        // hold on it; ECHILD when swift-subprocess has reaped it already.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
    }
}

/// How a background process ended, once it has, and the waits for it.
private final class Lifetime: Sendable {
    private struct State {
        var status: Int32?
        var waiters: [Int: CheckedContinuation<Int32?, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    var status: Int32? { state.withLock { $0.status } }

    func end(_ status: Int32) {
        let waiters = state.withLock { state in
            state.status = status
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume(returning: status) }
    }

    /// The exit status once the process has ended; nil if the waiting task is cancelled first.
    func ended() async -> Int32? {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Int32?, Never>) in
                let now: Int32?? = state.withLock { state in
                    if let status = state.status { return .some(status) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = waiter
                    return .none
                }
                if let now { waiter.resume(returning: now) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: nil)
        }
    }
}
