import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real three-server (or n-server) nats-server cluster with JetStream for one test: loopback only, free
/// ports, a store folder and a `server_name` each, every server routing to every other. Streams and key-value
/// buckets created with replicas > 1 are kept on several servers, so one server can be killed and restarted
/// while the cluster keeps serving.
///
/// Each server also serves its monitoring endpoint, so a test can ask one server what *it* stores
/// (`streamState(_:on:)`), not what the cluster's stream leader says.
public final class NATSCluster: Sendable {
    public let servers: [NATSServer]
    /// Each server's monitoring port (`-m`), in the order of `servers`.
    public let monitorPorts: [Int]

    /// Starts `size` servers and returns once JetStream has elected a meta leader.
    public static func start(size: Int = 3, name: String = "ben") async throws -> NATSCluster {
        let ports = try FreePorts.take(size * 3)
        let clusterPorts = Array(ports[size..<(2 * size)])
        let monitorPorts = Array(ports[(2 * size)...])
        let routes = clusterPorts.map { "nats://127.0.0.1:\($0)" }.joined(separator: ",")
        var servers: [NATSServer] = []
        for i in 0..<size {
            let arguments = [
                "--cluster", "nats://127.0.0.1:\(clusterPorts[i])", "--cluster_name", name, "--routes", routes,
                "-m", "\(monitorPorts[i])",
            ]
            servers.append(try await NATSServer.start(name: "\(name)-\(i + 1)", port: ports[i], extraArguments: arguments))
        }
        let cluster = NATSCluster(servers: servers, monitorPorts: monitorPorts)
        try await cluster.waitForJetStream()
        return cluster
    }

    init(servers: [NATSServer], monitorPorts: [Int]) {
        self.servers = servers
        self.monitorPorts = monitorPorts
    }

    /// Restarts every server, one by one, with `configuration` (an authorization, say), and waits for JetStream. For
    /// a fleet that brings its own authorization to a cluster started before it.
    public func restart(configuration: String?) async throws {
        for server in servers {
            server.use(configuration: configuration)
            try await server.restart()
        }
        try await waitForJetStream()
    }

    /// Every server's client URL, comma-separated, as Ben's `--nats` takes them.
    public var urls: String { servers.map(\.url).joined(separator: ",") }

    /// One server's `/jsz` report (its own view of JetStream), or nil if it does not answer.
    public func jsz(_ index: Int, query: String = "streams=true") -> [String: Any]? {
        guard let url = URL(string: "http://127.0.0.1:\(monitorPorts[index])/jsz?\(query)"),
            let data = Self.get(url),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return object
    }

    /// What server `index` itself stores of `stream`: messages, first and last sequence, bytes; nil if it holds
    /// no replica of it (or does not answer).
    public func streamState(_ stream: String, on index: Int) -> StreamState? {
        guard let report = jsz(index, query: "streams=true"), let accounts = report["account_details"] as? [[String: Any]] else { return nil }
        for account in accounts {
            for detail in account["stream_detail"] as? [[String: Any]] ?? [] where detail["name"] as? String == stream {
                guard let state = detail["state"] as? [String: Any] else { return nil }
                func number(_ key: String) -> UInt64 { (state[key] as? NSNumber)?.uint64Value ?? 0 }
                return StreamState(messages: number("messages"), bytes: number("bytes"), firstSequence: number("first_seq"), lastSequence: number("last_seq"))
            }
        }
        return nil
    }

    /// The name of the server that leads `stream`'s replicas (its Raft group), as server `index` reports it.
    public func streamLeader(_ stream: String, asSeenBy index: Int) -> String? {
        guard let report = jsz(index, query: "streams=true"), let accounts = report["account_details"] as? [[String: Any]] else { return nil }
        for account in accounts {
            for detail in account["stream_detail"] as? [[String: Any]] ?? [] where detail["name"] as? String == stream {
                return (detail["cluster"] as? [String: Any])?["leader"] as? String
            }
        }
        return nil
    }

    public struct StreamState: Sendable, Hashable, CustomStringConvertible {
        public var messages: UInt64
        public var bytes: UInt64
        public var firstSequence: UInt64
        public var lastSequence: UInt64

        public var description: String { "\(messages) messages, \(bytes) bytes, sequences \(firstSequence)…\(lastSequence)" }
    }

    /// Waits until every running server reports the same JetStream meta leader.
    public func waitForJetStream(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let leaders = servers.indices.filter { servers[$0].isRunning }.map { i -> String? in
                ((jsz(i, query: "")?["meta_cluster"] as? [String: Any])?["leader"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            }
            if !leaders.isEmpty, leaders.allSatisfy({ $0 != nil && $0 == leaders[0] }) { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw NATSServer.Failure(description: "the cluster elected no JetStream meta leader within \(timeout)")
    }
}

extension NATSCluster {
    /// The body of an HTTP GET, or nil on any failure or after 5 s: the servers' monitoring ports are on this machine.
    static func get(_ url: URL) -> Data? {
        final class Box: @unchecked Sendable {
            // Written once by the session's callback before `done` is signalled, read after.
            var data: Data?
            let done = DispatchSemaphore(value: 0)
        }
        let box = Box()
        let task = URLSession.shared.dataTask(with: URLRequest(url: url, timeoutInterval: 5)) { data, response, _ in
            box.data = (response as? HTTPURLResponse)?.statusCode == 200 ? data : nil
            box.done.signal()
        }
        task.resume()
        box.done.wait()
        return box.data
    }
}
