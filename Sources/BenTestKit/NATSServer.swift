import Foundation
import Synchronization

/// A real `nats-server` with JetStream for one test: loopback only, a free port, a store in a temporary folder.
///
/// It can be stopped and started again on the same port with the same store, as a server restart in production
/// would be. When the value is released (the test ends, passes or fails) the process is killed by its pid and
/// the store is removed.
public final class NATSServer: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The store folder (`-sd`), kept across restarts.
    public let storeDirectory: String
    private let folder: TemporaryDirectory
    private let executable: String
    private let jetStream: Bool
    /// The server's name (`-n`); a cluster needs a distinct one per server.
    public let name: String
    /// Arguments after the standard ones (a cluster's `--cluster`, `--routes`, a monitoring port).
    private let extraArguments: [String]
    private let maxPayload: Int?

    private struct State {
        var process: BackgroundProcess?
        var port: Int?
        var starts = 0
        var logs: [String] = []
        /// nats-server configuration text the server starts with (an authorization, say), from the next start on.
        var configuration: String?
    }
    private let state = Mutex(State())

    /// Starts a server on a port the system picks, and returns once it accepts connections. `maxPayload` raises
    /// the server's 1 MiB limit on one message (a 10 000-node topology file is larger); `configuration` is
    /// nats-server configuration text to run with, such as the authorization `benctl nats config` writes.
    public static func start(jetStream: Bool = true, maxPayload: Int? = nil, configuration: String? = nil) async throws -> NATSServer {
        let server = try NATSServer(jetStream: jetStream, maxPayload: maxPayload)
        server.state.withLock { $0.configuration = configuration }
        try await server.start()
        return server
    }

    /// Runs the server with `configuration` (nats-server configuration text, such as an authorization) from its next
    /// start on; `restart()` to apply it now.
    public func use(configuration: String?) {
        state.withLock { $0.configuration = configuration }
    }

    /// Starts one server of a cluster (`NATSCluster`): its name, client port and the cluster arguments are
    /// given, so every server can name every other's route before any of them runs.
    static func start(name: String, port: Int, extraArguments: [String]) async throws -> NATSServer {
        let server = try NATSServer(jetStream: true, name: name, port: port, extraArguments: extraArguments)
        try await server.start()
        return server
    }

    private init(jetStream: Bool, maxPayload: Int? = nil, name: String = "ben-test", port: Int? = nil, extraArguments: [String] = []) throws {
        self.name = name
        self.extraArguments = extraArguments
        self.maxPayload = maxPayload
        guard let executable = Self.findExecutable() else {
            throw Failure(
                description: "nats-server not found on PATH, in /usr/sbin or in $NATS_SERVER; "
                    + "run `make deps` (it installs Debian's nats-server)")
        }
        self.executable = executable
        self.jetStream = jetStream
        folder = try TemporaryDirectory(prefix: "ben-nats")
        storeDirectory = folder.file("store")
        try FileManager.default.createDirectory(atPath: storeDirectory, withIntermediateDirectories: true)
        if let port { state.withLock { $0.port = port } }
    }

    /// The port clients connect to; the same after a restart.
    public var port: Int { state.withLock { $0.port ?? 0 } }

    /// `nats://127.0.0.1:<port>`.
    public var url: String { "nats://127.0.0.1:\(port)" }

    public var isRunning: Bool { state.withLock { $0.process?.isRunning ?? false } }

    /// The pid of the running server, if any.
    public var pid: Int32? { state.withLock { $0.process?.pid } }

    /// Everything the server has logged, over every start.
    public var log: String {
        state.withLock { $0.logs }.map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }.joined()
    }

    /// Starts the server (again) on its port with its store; returns once it accepts connections.
    public func start() async throws {
        let (logPath, arguments) = try state.withLock { state throws -> (String, [String]) in
            guard state.process == nil else { throw Failure(description: "nats-server is already running") }
            state.starts += 1
            let logPath = folder.file("nats-server-\(state.starts).log")
            state.logs.append(logPath)
            var arguments = ["-a", "127.0.0.1", "-p", state.port.map(String.init) ?? "-1", "-n", name]
            if jetStream { arguments += ["-js", "-sd", storeDirectory] }
            arguments += extraArguments
            if maxPayload != nil || state.configuration != nil {
                let config = folder.file("nats-server.conf")
                let text = (maxPayload.map { "max_payload: \($0)\n" } ?? "") + (state.configuration ?? "")
                try text.write(toFile: config, atomically: true, encoding: .utf8)
                arguments += ["-c", config]
            }
            return (logPath, arguments)
        }
        let process = try await BackgroundProcess(executable, arguments, logPath: logPath)
        state.withLock { $0.process = process }

        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if log.contains("Server is ready"), let port = Self.listeningPort(in: log), Self.acceptsConnections(port) {
                state.withLock { $0.port = port }
                return
            }
            if !process.isRunning {
                state.withLock { $0.process = nil }
                throw Failure(description: "nats-server \(arguments.joined(separator: " ")) exited:\n\(log)")
            }
            if ContinuousClock.now > deadline {
                kill()
                throw Failure(description: "nats-server did not become ready within 15 s:\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Stops the server gracefully (SIGTERM: JetStream flushes its store), waiting for it to exit; SIGKILL after
    /// 10 s.
    public func stop() async throws {
        guard let process = state.withLock({ $0.process }) else { return }
        process.signal(SIGTERM)
        if await process.wait(timeout: .seconds(10)) == nil { process.signal(SIGKILL) }
        state.withLock { $0.process = nil }  // BackgroundProcess's deinit returns once it has ended.
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    public func kill() {
        let process = state.withLock { state in
            defer { state.process = nil }
            return state.process
        }
        process?.signal(SIGKILL)
    }

    /// Stops and starts again on the same port with the same store.
    public func restart() async throws {
        try await stop()
        try await start()
    }

    deinit {
        // Kill before the store folder goes (BackgroundProcess's deinit kills it and returns once it has ended).
        kill()
    }

    static func findExecutable() -> String? {
        if let path = ProcessInfo.processInfo.environment["NATS_SERVER"],
            FileManager.default.isExecutableFile(atPath: path)
        {
            return path
        }
        if let path = ProcessRunner.which("nats-server") { return path }
        // Debian installs it in /usr/sbin, which is not on an unprivileged user's PATH.
        return ["/usr/sbin/nats-server", "/usr/local/sbin/nats-server"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// The port in "Listening for client connections on 127.0.0.1:PORT".
    static func listeningPort(in log: String) -> Int? {
        guard let range = log.range(of: "Listening for client connections on ") else { return nil }
        let line = log[range.upperBound...].prefix { $0 != "\n" }
        guard let colon = line.lastIndex(of: ":") else { return nil }
        return Int(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }

    /// Whether a TCP connection to 127.0.0.1:port succeeds now.
    static func acceptsConnections(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }
}
