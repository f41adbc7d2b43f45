import Foundation
import Subprocess
import SystemPackage

/// Runs Ben's own executables and other programs from tests, with real processes.
///
/// Every process goes through swiftlang/swift-subprocess: a program run to completion here (`run`), a daemon a test
/// keeps running, signals and reads the log of as a `BackgroundProcess`.
///
/// Every process a test starts is killed by pid when the test lets go of it, so a failing test leaves nothing
/// running.
public enum ProcessRunner {
    public struct Outcome: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The folder that holds the products of this build (`.build/<triple>/debug`), found from the test bundle.
    public static var productsDirectory: String {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            if url.pathExtension == "xctest" { return url.deletingLastPathComponent().path }
            url.deleteLastPathComponent()
        }
        // swift-testing run directly from the products folder.
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    }

    /// Path of one of Ben's executables (`benctl`, `ben-ledger`, …) from this build.
    public static func product(_ name: String) -> String { productsDirectory + "/" + name }

    /// The repository's root folder, from this source file's path.
    public static func repositoryRoot(file: String = #filePath) -> String {
        var url = URL(fileURLWithPath: file)
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url.path
            }
            url.deleteLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath
    }

    /// The most output of one stream `run` keeps (a 100 000-node plan as JSON is well under it).
    public static let outputLimit = 512 << 20

    /// Runs `executable` to completion and captures its output. `environment` is added to this process's; `input`
    /// is written to its standard input, which is then closed (with no input, it reads end of file at once).
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil,
        currentDirectory: String? = nil
    ) async throws -> Outcome {
        var overrides: [Environment.Key: String?] = [:]
        for (name, value) in environment ?? [:] { overrides[Environment.Key(stringLiteral: name)] = value }
        let result = try await Subprocess.run(
            .path(FilePath(executable)), arguments: Arguments(arguments), environment: .inherit.updating(overrides),
            workingDirectory: currentDirectory.map { FilePath($0) }, input: .array(Array((input ?? "").utf8)),
            output: .string(limit: outputLimit), error: .string(limit: outputLimit))
        return Outcome(status: status(result.terminationStatus), stdout: result.standardOutput, stderr: result.standardError)
    }

    /// `run`, calling `shown` once, as soon as the standard output holds `marker`: for a test that acts on a running
    /// program once it has shown something (a watcher's first drawing) instead of sleeping and hoping it has.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, whenOutputShows marker: String,
        _ shown: @escaping @Sendable () -> Void
    ) async throws -> Outcome {
        var overrides: [Environment.Key: String?] = [:]
        for (name, value) in environment ?? [:] { overrides[Environment.Key(stringLiteral: name)] = value }
        let result = try await Subprocess.run(
            .path(FilePath(executable)), arguments: Arguments(arguments), environment: .inherit.updating(overrides), input: .none,
            output: .sequence, error: .string(limit: outputLimit)
        ) { execution in
            var bytes: [UInt8] = []
            var seen = false
            for try await buffer in execution.standardOutput {
                buffer.withUnsafeBytes { bytes += $0 }
                guard bytes.count <= outputLimit else { throw LocalFleetError("\(executable): more than \(outputLimit) bytes of output") }
                if !seen, String(decoding: bytes, as: UTF8.self).contains(marker) {
                    seen = true
                    shown()
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        return Outcome(status: status(result.terminationStatus), stdout: result.closureResult, stderr: result.standardError)
    }

    static func status(_ termination: TerminationStatus) -> Int32 {
        switch termination {
        case .exited(let code): code
        case .signaled(let signal): signal
        }
    }

    /// Finds a program on PATH.
    public static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
