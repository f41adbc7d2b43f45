public import BenCore
public import BenCrypto
import BenStore
public import Foundation
import Synchronization

/// A whole Ben fleet of real processes for integration tests: a real nats-server with JetStream, `ben-ledger`
/// and one `ben-agent` per node, on loopback ports picked free, in a temporary folder that goes away with the
/// value. Every process is killed by pid when the fleet is released, whatever the test did.
///
/// NATS runs Ben's authorization by default, as a production fleet does: `benctl nats config` writes it from the
/// fleet's topology, the server runs it, and the ledger, every agent and benctl connect with their own credentials
/// (`natsCredentials(_:)`). `natsAuthorization: false` runs an open server instead.
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
    /// The nats-server (the first server of `cluster`, when there is one).
    public let nats: NATSServer
    /// A nats-server cluster the fleet runs on instead of a single server.
    public let cluster: NATSCluster?
    /// What the ledger, the agents and benctl are given as `--nats`: the server, or every server of the cluster.
    public var natsURL: String { cluster?.urls ?? nats.url }
    public let nodes: [Node]
    public let ledgerKey: SigningKey
    public let operatorKey: SigningKey
    public let ledgerPort: Int
    public let topologyPath: String
    /// Whether NATS runs Ben's authorization (the default) or lets anyone connect.
    public let natsAuthorization: Bool
    public private(set) var ledger: BackgroundProcess?
    public private(set) var agents: [NodeID: BackgroundProcess] = [:]
    /// Extra arguments for every agent (e.g. a short orphan deadline).
    public var agentArguments: [String] = ["--heartbeat", "2", "--orphan-after", "3"]
    /// Extra arguments for one agent, after `agentArguments` (e.g. a lower `--upload-limit` for one relay).
    public var nodeArguments: [NodeID: [String]] = [:]
    public var ledgerArguments: [String] = ["--silent-after", "6"]
    /// The ledger key one agent trusts instead of the fleet's (a node configured with the wrong key).
    public var trustedLedgerKey: [NodeID: String] = [:]
    /// The `--nats` one agent is given instead of the fleet's (a blackholed address: a node cut off from NATS).
    public var natsURLOverride: [NodeID: String] = [:]
    /// The ledger's lease: a restarted ledger waits for its killed predecessor's lease to lapse (`--standby`), and
    /// the TTL outlasts a nats-server restart and a loaded test machine's stalls.
    public var leaseArguments: [String] = ["--lease-ttl", "20", "--standby"]

    /// Makes keys, a topology of `count` nodes (racks of `rackSize`, two zones), and starts nats-server. Start the
    /// ledger and the agents with `startLedger()` and `startAgents()`.
    ///
    /// `uplink` is what the topology says every node's upload is (the planner plans for it); shape the processes to
    /// match with `--upload-limit` in `agentArguments` and `ledgerArguments`.
    ///
    /// With `natsAuthorization` (the default) the server runs the authorization `benctl nats config` writes for this
    /// topology; a `cluster` is restarted with it, server by server, before anything is stored.
    public init(
        nodes count: Int, rackSize: Int = 3, fleet: String = "test", stripes: Int? = nil, uplink: String = "10Gbit",
        cluster: NATSCluster? = nil, natsAuthorization: Bool = true, roles: (Int) -> [Role] = { _ in [.proxy] }
    ) async throws {
        directory = try TemporaryDirectory(prefix: "ben-fleet")
        self.fleet = FleetName(fleet)!
        self.cluster = cluster
        self.natsAuthorization = natsAuthorization
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
        try Self.topologyYAML(fleet: self.fleet, ledgerPort: ledgerPort, nodes: nodes, stripes: stripes, uplink: uplink)
            .write(toFile: topologyPath, atomically: true, encoding: .utf8)
        var configuration: String?
        if natsAuthorization {
            let written = try await ProcessRunner.run(
                ProcessRunner.product("benctl"), ["nats", "config", "--topology", topologyPath, "--out", directory.file("nats")])
            guard written.status == 0 else { throw LocalFleetError("benctl nats config failed: \(written.stderr)") }
            configuration = try String(contentsOfFile: directory.file("nats/nats-server.conf"), encoding: .utf8)
        }
        if let cluster {
            nats = cluster.servers[0]
            if let configuration { try await cluster.restart(configuration: configuration) }
        } else {
            nats = try await NATSServer.start(configuration: configuration)
        }
    }

    /// Who connects to the fleet's NATS.
    public enum NATSIdentity: Sendable, Hashable {
        case ledger
        case `operator`
        case node(NodeID)
    }

    /// The credentials file `benctl nats config` wrote for `identity` (give it to BenNATS as
    /// `NATSSettings.credentialsFile`), or nil when NATS runs without authorization.
    public func natsCredentials(_ identity: NATSIdentity) -> String? {
        guard natsAuthorization else { return nil }
        switch identity {
        case .ledger: return directory.file("nats/ledger.creds")
        case .operator: return directory.file("nats/operators/operator.creds")
        case .node(let id): return directory.file("nats/nodes/\(id).creds")
        }
    }

    /// `--nats-creds FILE` for a daemon of `identity`, or nothing without authorization.
    func credentialsArguments(_ identity: NATSIdentity) -> [String] {
        natsCredentials(identity).map { ["--nats-creds", $0] } ?? []
    }

    deinit {
        for process in agents.values where process.isRunning { process.signal(SIGKILL) }
        if let ledger, ledger.isRunning { ledger.signal(SIGKILL) }
        if cluster == nil { nats.kill() }
    }

    static func topologyYAML(fleet: FleetName, ledgerPort: Int, nodes: [Node], stripes: Int?, uplink: String) -> String {
        var lines = [
            "format: ben/topology/v1", "fleet: \(fleet)", "ledger:", "  address: 127.0.0.1:\(ledgerPort)", "  region: test", "  zone: a",
        ]
        if let stripes { lines.append("stripes: \(stripes)") }
        lines += [
            "defaults:", "  chunk_size: 64KiB", "  uplink: \(uplink)",
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
        ledger = try await launchLedger(seedPort: ledgerPort, arguments: ledgerArguments + leaseArguments)
        try await waitUntil(timeout: .seconds(30), "the ledger answers") { (try? await self.benctl(["versions"]))?.status == 0 }
    }

    /// Starts a `ben-ledger` for this fleet without waiting for it: on the fleet's data directory unless `data`
    /// names another, its seed listener on `seedPort`, logging to `log` in the fleet's folder. For tests that run
    /// a second ledger beside the first (the lease).
    public func launchLedger(seedPort: Int, arguments: [String], data: String? = nil, log: String = "ledger.log") async throws -> BackgroundProcess {
        try await BackgroundProcess(
            ProcessRunner.product("ben-ledger"),
            [
                "--fleet", fleet.rawValue, "--nats", natsURL, "--data", data ?? directory.file("ledger"), "--key", directory.file("ledger.key"),
                "--operator-key", operatorKey.publicKey.hex, "--seed-listen", "127.0.0.1:\(seedPort)",
            ] + credentialsArguments(.ledger) + arguments,
            logPath: directory.file(log), append: true)
    }

    public func killLedger() async {
        ledger?.signal(SIGKILL)
        _ = await ledger?.wait(timeout: .seconds(10))
    }

    public func startAgents(_ ids: [NodeID]? = nil) async throws {
        for node in nodes where ids == nil || ids!.contains(node.id) { try await startAgent(node.id) }
    }

    public func startAgent(_ id: NodeID) async throws {
        let node = nodes.first { $0.id == id }!
        agents[id] = try await BackgroundProcess(
            ProcessRunner.product("ben-agent"),
            [
                "--node", node.id.rawValue, "--fleet", fleet.rawValue, "--roles",
            ] + node.roles.map(\.rawValue) + [
                "--key", directory.file("\(node.id).key"), "--listen", "127.0.0.1:\(node.port)", "--nats", natsURLOverride[id] ?? natsURL,
                "--ledger-key", trustedLedgerKey[id] ?? ledgerKey.publicKey.hex, "--state", directory.file("agents/\(node.id)"),
            ] + credentialsArguments(.node(id)) + agentArguments + (nodeArguments[id] ?? []),
            logPath: directory.file("agent-\(node.id).log"), append: true)
    }

    /// Waits until these agents (all, by default) listen for peer links and follow announcements over NATS, the
    /// `times`-th time each (a restarted agent logs both again).
    public func waitUntilReady(_ ids: [NodeID]? = nil, times: Int = 1, timeout: Duration = .seconds(30)) async throws {
        let ids = ids ?? nodes.map(\.id)
        try await waitUntil(timeout: timeout, "\(ids.count == 1 ? "\(ids[0]) is" : "the agents are") ready") {
            ids.allSatisfy { id in
                let log = self.agentLog(id)
                return log.components(separatedBy: "listening for peer links").count > times
                    && log.components(separatedBy: "following announcements").count > times
            }
        }
    }

    /// Stops an agent: SIGTERM (graceful) or SIGKILL.
    public func stopAgent(_ id: NodeID, signal: Int32 = SIGTERM) async {
        agents[id]?.signal(signal)
        _ = await agents[id]?.wait(timeout: .seconds(10))
    }

    public func agentLog(_ id: NodeID) -> String { agents[id]?.log ?? "" }
    public var ledgerLog: String { ledger?.log ?? "" }

    // MARK: Driving and reading

    /// Runs benctl against this fleet (fleet, NATS, operator key and the operator's NATS credentials set in its
    /// environment).
    @discardableResult
    public func benctl(_ arguments: [String]) async throws -> ProcessRunner.Outcome {
        try await ProcessRunner.run(ProcessRunner.product("benctl"), arguments, environment: benctlEnvironment)
    }

    /// `benctl`, calling `shown` once its output holds `marker` (`ProcessRunner.run(_:_:environment:whenOutputShows:_:)`).
    public func benctl(_ arguments: [String], whenOutputShows marker: String, _ shown: @escaping @Sendable () -> Void) async throws
        -> ProcessRunner.Outcome
    {
        try await ProcessRunner.run(ProcessRunner.product("benctl"), arguments, environment: benctlEnvironment, whenOutputShows: marker, shown)
    }

    /// What `benctl` runs with against this fleet. Its own config folder: a context the developer selected must not
    /// reach into a test.
    public var benctlEnvironment: [String: String] {
        [
            "BEN_FLEET": fleet.rawValue, "BEN_NATS": natsURL, "BEN_OPERATOR_KEY": directory.file("operator.key"),
            "BEN_CONFIG_DIR": directory.file("benctl-config"), "BEN_NATS_CREDS": natsCredentials(.operator) ?? "",
        ]
    }

    /// `benctl` on a terminal: run inside util-linux's script(1), which gives it a pseudo-terminal (TERM=xterm).
    /// Its output is what the terminal received, escape codes included.
    ///
    /// - Parameters:
    ///   - marker: with `shown`, called once as soon as the terminal has received `marker`.
    public func benctlOnTerminal(_ arguments: [String], whenOutputShows marker: String? = nil, _ shown: @escaping @Sendable () -> Void = {})
        async throws -> ProcessRunner.Outcome
    {
        let script = "/usr/bin/script"
        guard FileManager.default.isExecutableFile(atPath: script) else {
            throw LocalFleetError("\(script) is missing: this test runs benctl on a pseudo-terminal with script(1); install util-linux (bsdutils)")
        }
        let command = ([ProcessRunner.product("benctl")] + arguments).joined(separator: " ")
        var environment = benctlEnvironment
        environment["TERM"] = "xterm"
        let scriptArguments = ["--quiet", "--flush", "--return", "--command", command, "/dev/null"]
        guard let marker else { return try await ProcessRunner.run(script, scriptArguments, environment: environment) }
        return try await ProcessRunner.run(script, scriptArguments, environment: environment, whenOutputShows: marker, shown)
    }

    /// `benctl` for a test that runs in-process doubles (a tampering relay, a slow child). `benctl` no longer blocks
    /// a thread while the child runs (swift-subprocess awaits it), so this is `benctl` itself, kept for its callers.
    public func benctlInBackground(_ arguments: [String]) async throws -> ProcessRunner.Outcome {
        try await benctl(arguments)
    }

    /// Polls `condition` every 100 ms until it holds or `timeout` passes, without holding a pool thread.
    public func waitUntil(timeout: Duration, _ what: String, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return }
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

    /// The highest ledger lease epoch the agent accepted (its state file's `highest_epoch`).
    public func agentEpoch(_ id: NodeID) -> UInt64? {
        guard let text = try? String(contentsOfFile: directory.file("agents/\(id)/agent.state"), encoding: .utf8),
            let json = try? JSONParser.parse(text), let epoch = json["highest_epoch"]?.intValue
        else { return nil }
        return UInt64(epoch)
    }

    /// Applies the topology, builds and stages an intent folder; returns the version.
    public func stage(_ intent: String) async throws -> Version {
        let applied = try await benctl(["topology", "apply", topologyPath])
        guard applied.status == 0 else { throw LocalFleetError("topology apply failed: \(applied.stderr)") }
        let staged = try await benctl(["stage", intent, "--json"])
        guard staged.status == 0, let json = try? JSONParser.parse(staged.stdout), let v = json["version"]?.intValue else {
            throw LocalFleetError("stage failed: \(staged.stderr)")
        }
        return Version(UInt64(v))
    }

    /// `benctl deploy V --json` with `extra` arguments (`--timeout 10`, `--stripes 1`, …); returns the plan the
    /// ledger computed and stored for this rollout, so a test can pick a relay or a leaf from it.
    @discardableResult
    public func deploy(_ version: Version, _ extra: [String] = []) async throws -> Plan {
        let outcome = try await benctlInBackground(["deploy", "\(version.rawValue)", "--json"] + extra)
        guard outcome.status == 0, let json = try? JSONParser.parse(outcome.stdout), let keyText = json["plan"]?.stringValue,
            let key = Key(hex: keyText)
        else { throw LocalFleetError("deploy \(version) failed (\(outcome.status)): \(outcome.stdout)\(outcome.stderr)") }
        return try ledgerPlan(key)
    }

    /// A plan from the ledger's store.
    public func ledgerPlan(_ key: Key) throws -> Plan {
        let store = try ChunkStore(root: directory.file("ledger/store"))
        return try Plan.decode(try store.get(key))
    }

    /// How many chunks of a bundle an agent holds in its store now (0 of 0 before it has the manifest). Safe while
    /// the agent runs: the store is shared between processes by design.
    public func chunksHeld(_ id: NodeID, manifest: Key) -> (have: Int, of: Int) {
        guard let store = try? ChunkStore(root: directory.file("agents/\(id)/store")), let (_, have) = store.holdings(of: manifest) else {
            return (0, 0)
        }
        return (have.filter { $0 }.count, have.count)
    }

    /// The ledger's status of a version (`benctl status V --json`).
    public func status(_ version: Version) async throws -> DeploymentStatus {
        let outcome = try await benctl(["status", "\(version.rawValue)", "--json"])
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

/// Loopback ports that were free a moment ago (bound, noted, released), for processes a test starts later.
///
/// They come from below the kernel's ephemeral range (32768 and up on Linux), never from it: a port picked there
/// and released can be taken, before the agent binds it, as the local end of any outgoing connection (a NATS
/// client's, a relay's), and the agent then fails to listen while another fleet's process answers on its
/// address. No port is handed out twice by one test process, so fleets running in parallel never collide.
public enum FreePorts {
    private static let handedOut = Mutex<Set<Int>>([])
    static let range = 20_000..<32_000

    public static func take(_ count: Int) throws -> [Int] {
        var ports: [Int] = []
        var tries = 0
        while ports.count < count {
            tries += 1
            guard tries < 20 * range.count else { throw LocalFleetError("no free loopback port in \(range)") }
            let port = Int.random(in: range)
            let fresh = handedOut.withLock { $0.insert(port).inserted }
            guard fresh else { continue }
            if try bindable(port) { ports.append(port) }
        }
        return ports
    }

    static func bindable(_ port: Int) throws -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LocalFleetError("socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return bound == 0
    }
}
