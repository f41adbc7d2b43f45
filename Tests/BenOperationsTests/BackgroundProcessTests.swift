import BenTestKit
import Foundation
import Testing

/// The test kit's background processes (every daemon a real-process test runs), over swift-subprocess: the exit
/// status or the signal that ended one, its log, a wait that gives up, and a process killed when the test lets go.
@Suite struct BackgroundProcessTests {
    @Test func anExitStatusAndTheLogAreKept() async throws {
        let dir = try TemporaryDirectory()
        let log = dir.file("out.log")
        let process = try await BackgroundProcess("/bin/sh", ["-c", "echo to-out; echo to-err >&2; exit 3"], logPath: log)
        #expect(await process.wait(timeout: .seconds(30)) == 3)
        #expect(!process.isRunning)
        #expect(process.log.contains("to-out") && process.log.contains("to-err"), "\(process.log)")

        // Appending keeps what the last one wrote, as a restarted daemon's log does.
        let again = try await BackgroundProcess("/bin/sh", ["-c", "echo again"], logPath: log, append: true)
        #expect(await again.wait(timeout: .seconds(30)) == 0)
        #expect(again.log.contains("to-out") && again.log.contains("again"), "\(again.log)")
    }

    @Test func aWaitGivesUpOnARunningProcessAndASignalEndsIt() async throws {
        let dir = try TemporaryDirectory()
        let process = try await BackgroundProcess("/bin/sleep", ["600"], logPath: dir.file("sleep.log"))
        #expect(await process.wait(timeout: .milliseconds(200)) == nil)
        #expect(process.isRunning)
        process.signal(SIGTERM)
        #expect(await process.wait(timeout: .seconds(30)) == SIGTERM)
        #expect(!process.isRunning)
    }

    @Test func aProcessTheTestLetsGoOfIsKilled() async throws {
        let dir = try TemporaryDirectory()
        var process: BackgroundProcess? = try await BackgroundProcess("/bin/sleep", ["600"], logPath: dir.file("sleep.log"))
        let pid = try #require(process?.pid)
        #expect(Self.alive(pid))
        process = nil
        // Released, it is dead at once: gone, or a zombie until swift-subprocess reaps it.
        #expect(!Self.alive(pid))
    }

    @Test func aProgramThatCannotStartThrows() async throws {
        let dir = try TemporaryDirectory()
        await #expect(throws: (any Error).self) {
            _ = try await BackgroundProcess(dir.file("no-such-program"), [], logPath: dir.file("none.log"))
        }
    }

    /// Whether `pid` is a process that has not ended (not a zombie).
    static func alive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
    }
}
