public import BenCore
public import BenCrypto
public import Foundation

/// A whole Ben fleet of real processes for integration tests: a real nats-server with JetStream, `ben-ledger`
/// and one `ben-agent` per node, on loopback ports picked free, in a temporary folder that goes away with the
/// value. Every process is killed by pid when the fleet is released, whatever the test did.
public final class LocalFleet: @unchecked Sendable {
    // Mutable state (the process table) is only touched from the test's own task.
    public struct Node: Sendable {
        public var id: NodeID
        public var roles: [Role]
        public var port: Int
        public var rack: String
        public var zone: String
        public var key: SigningKey
    }

    public let directory: TemporaryDirectory
    public let fleet: FleetName
    public let nats: NATSServer
    public let nodes: [Node]
    public let ledgerKey: SigningKey
    public let operatorKey: SigningKey
    public let ledgerPort: Int
    public let topologyPath: String
    public private(set) var ledger: BackgroundProcess?
    public private(set) var agents: [NodeID: BackgroundProcess] = [:]
    /// Extra arguments for every agent (e.g. a short orphan deadline).
    public var agentArguments: [String] = ["--heartbeat", "2", "--orphan-after", "3"]
    public var ledgerArguments: [String] = ["--silent-after", "6"]

    /// Makes keys, a topology of `count` nodes (racks of `rackSize`, two zones), and starts nats-server. Start the
    /// ledger and the agents with `startLedger()` and `startAgents()`.
    public init(nodes count: Int, rackSize: Int = 3, fleet: String = "test", stripes: Int? = nil, roles: (Int) -> [Role] = { _ in [.proxy] })
        async throws
    {
        directory = try TemporaryDirectory(prefix: "ben-fleet")
        self.fleet = FleetName(fleet)!
        nats = try await NATSServer.start()
        ledgerKey = SigningKey.generate()
        operatorKey = SigningKey.generate()
        try KeyFile.write(ledgerKey, to: directory.file("ledger.key"))
        try KeyFile.write(operatorKey, to: directory.file("operator.key"))
        let ports = try FreePorts.take(count + 1)
        ledgerPort = ports[0]
        var nodes: [Node] = []
        for i in 0..<count {
            let rackIndex = i / rackSize
            let node = Node(
                id: NodeID("node-\(i + 1)")!, roles: roles(i), port: ports[i + 1], rack: "r\(rackIndex + 1)",
                zone: rackIndex % 2 == 0 ? "a" : "b", key: SigningKey.generate())
            try KeyFile.write(node.key, to: directory.file("\(node.id).key"))
            nodes.append(node)
        }
        self.nodes = nodes
        topologyPath = directory.file("topology.yaml")
        try Self.topologyYAML(fleet: self.fleet, ledgerPort: ledgerPort, nodes: nodes, stripes: stripes)
            .write(toFile: topologyPath, atomically: true, encoding: .utf8)
    }

    deinit {
        for process in agents.values where process.isRunning { process.signal(SIGKILL) }
        if let ledger, ledger.isRunning { ledger.signal(SIGKILL) }
        nats.kill()
    }

    static func topologyYAML(fleet: FleetName, ledgerPort: Int, nodes: [Node], stripes: Int?) -> String {
        var lines = [
            "format: ben/topology/v1", "fleet: \(fleet)", "ledger:", "  address: 127.0.0.1:\(ledgerPort)", "  region: test", "  zone: a",
        ]
        if let stripes { lines.append("stripes: \(stripes)") }
        lines += [
            "defaults:", "  chunk_size: 64KiB", "  uplink: 10Gbit",
            "  max_fan_out: {total: 4, in_rack: 4, cross_rack: 2, cross_zone: 2, cross_region: 1}",
            "regions:", "  - name: test", "    zones:",
        ]
        for zone in ["a", "b"] {
            let racks = Dictionary(grouping: nodes.filter { $0.zone == zone }, by: \.rack)
            guard !racks.isEmpty else { continue }
            lines += ["      - name: \(zone)", "        racks:"]
            for rack in racks.keys.sorted(by: { $0.count == $1.count ? $0 < $1 : $0.count < $1.count }) {
                lines += ["          - name: \(rack)", "            nodes:"]
                for node in racks[rack]! {
                    lines.append(
                        "              - {id: \(node.id), roles: [\(node.roles.map(\.rawValue).joined(separator: ", "))], "
                            + "address: 127.0.0.1:\(node.port), key: \(node.key.publicKey.hex)}")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: Processes

    public func startLedger() async throws {
        ledger = try BackgroundProcess(
            ProcessRunner.product("ben-ledger"),
            [
                "--fleet", fleet.rawValue, "--nats", nats.url, "--data", directory.file("ledger"), "--key", directory.file("ledger.key"),
                "--operator-key", operatorKey.publicKey.hex, "--seed-listen", "127.0.0.1:\(ledgerPort)",
            ] + ledgerArguments,
            logPath: directory.file("ledger.log"), append: true)
        try await waitUntil(timeout: .seconds(20), "the ledger answers") { (try? self.benctl(["versions"]))?.status == 0 }
    }

    public func killLedger() {
        ledger?.signal(SIGKILL)
        _ = ledger?.wait(timeout: .seconds(10))
    }

    public func startAgents(_ ids: [NodeID]? = nil) throws {
        for node in nodes where ids == nil || ids!.contains(node.id) { try startAgent(node.id) }
    }

    public func startAgent(_ id: NodeID) throws {
        let node = nodes.first { $0.id == id }!
        agents[id] = try BackgroundProcess(
            ProcessRunner.product("ben-agent"),
            [
                "--node", node.id.rawValue, "--fleet", fleet.rawValue, "--roles",
            ] + node.roles.map(\.rawValue) + [
                "--key", directory.file("\(node.id).key"), "--listen", "127.0.0.1:\(node.port)", "--nats", nats.url,
                "--ledger-key", ledgerKey.publicKey.hex, "--state", directory.file("agents/\(node.id)"),
            ] + agentArguments,
            logPath: directory.file("agent-\(node.id).log"), append: true)
    }

    /// Stops an agent: SIGTERM (graceful) or SIGKILL.
    public func stopAgent(_ id: NodeID, signal: Int32 = SIGTERM) {
        agents[id]?.signal(signal)
        _ = agents[id]?.wait(timeout: .seconds(10))
    }

    public func agentLog(_ id: NodeID) -> String { agents[id]?.log ?? "" }
    public var ledgerLog: String { ledger?.log ?? "" }

    // MARK: Driving and reading

    /// Runs benctl against this fleet (fleet, NATS and operator key set in its environment).
    @discardableResult
    public func benctl(_ arguments: [String]) throws -> ProcessRunner.Outcome {
        try ProcessRunner.run(
            ProcessRunner.product("benctl"), arguments,
            environment: ["BEN_FLEET": fleet.rawValue, "BEN_NATS": nats.url, "BEN_OPERATOR_KEY": directory.file("operator.key")])
    }

    /// `benctl` on a thread of its own, for a test that runs in-process doubles (a tampering relay, a slow child):
    /// a blocking wait on the concurrency pool's few threads would starve them.
    public func benctlInBackground(_ arguments: [String]) async throws -> ProcessRunner.Outcome {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try self.benctl(arguments) })
            }
        }
    }

    /// Polls `condition` every 100 ms until it holds or `timeout` passes, without holding a pool thread.
    public func waitUntil(timeout: Duration, _ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw LocalFleetError("timed out waiting until \(what)\n" + diagnostics())
    }

    /// The agent's durable record: the version it runs and the highest it accepted.
    public func agentState(_ id: NodeID) -> (active: Version, highestAccepted: Version)? {
        guard let text = try? String(contentsOfFile: directory.file("agents/\(id)/agent.state"), encoding: .utf8),
            let json = try? JSONParser.parse(text)
        else { return nil }
        return (Version(UInt64(json["active"]?.intValue ?? 0)), Version(UInt64(json["highest_accepted"]?.intValue ?? 0)))
    }

    /// Applies the topology, builds and stages an intent folder; returns the version.
    public func stage(_ intent: String) throws -> Version {
        let applied = try benctl(["topology", "apply", topologyPath])
        guard applied.status == 0 else { throw LocalFleetError("topology apply failed: \(applied.stderr)") }
        let staged = try benctl(["stage", intent, "--json"])
        guard staged.status == 0, let json = try? JSONParser.parse(staged.stdout), let v = json["version"]?.intValue else {
            throw LocalFleetError("stage failed: \(staged.stderr)")
        }
        return Version(UInt64(v))
    }

    /// The ledger's status of a version (`benctl status V --json`).
    public func status(_ version: Version) throws -> DeploymentStatus {
        let outcome = try benctl(["status", "\(version.rawValue)", "--json"])
        guard !outcome.stdout.isEmpty else { throw LocalFleetError("status failed: \(outcome.stderr)") }
        return try DeploymentStatus(json: try JSONParser.parse(outcome.stdout))
    }

    /// The last lines of every process's log, for a failing test's message.
    public func diagnostics(lines: Int = 15) -> String {
        var out: [String] = []
        func tail(_ name: String, _ text: String) {
            let last = text.split(separator: "\n").suffix(lines).joined(separator: "\n")
            out.append("--- \(name)\n\(last)")
        }
        if let ledger { tail("ledger", ledger.log) }
        for id in agents.keys.sorted() { tail("agent \(id)", agents[id]!.log) }
        return out.joined(separator: "\n")
    }
}

public struct LocalFleetError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Loopback ports that were free a moment ago (bound to port 0, noted, released).
public enum FreePorts {
    public static func take(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw LocalFleetError("socket: \(errno)") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw LocalFleetError("bind: \(errno)") }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}
