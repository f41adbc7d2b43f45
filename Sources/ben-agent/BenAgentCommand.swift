import ArgumentParser
import BenAgent
import BenCore
import BenCrypto
import BenPeerLink
import Logging
import ServiceLifecycle

/// `ben-agent`: one per component host. Parsing and wiring only; the work is `AgentService`.
@main
struct BenAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ben-agent",
        abstract: "Run a Ben agent: verify, relay, compile, hot-swap and ack the fleet's intent on this host.")

    @Option(name: .long, help: "This node's id, as the topology lists it.")
    var node: String

    @Option(name: .long, help: "The fleet name.")
    var fleet: String

    @Option(name: .long, parsing: .upToNextOption, help: "The roles this node runs (\(Role.spelling)).")
    var roles: [String]

    @Option(name: .long, help: "The node's Ed25519 key file (32-byte seed, mode 0600); its public half is in the topology.")
    var key: String

    @Option(name: .long, help: "Where the peer link listens (host:port), as the topology lists it.")
    var listen: String

    @Option(name: .long, help: "NATS server URL(s), comma-separated.")
    var nats: String = "nats://127.0.0.1:4222"

    @Option(name: .long, parsing: .upToNextOption, help: "Trusted ledger public keys (64 hex digits) or files holding one.")
    var ledgerKey: [String]

    @Option(name: .long, help: "The state directory (store and durable record).")
    var state: String

    @Option(name: .long, help: "Seconds between heartbeats (±20 %).")
    var heartbeat: Int = 30

    @Option(name: .long, help: "Seconds to wait for a parent before pulling from the ledger's store.")
    var orphanAfter: Int = 10

    @Option(name: .long, help: "Cap this process's upload over all peer links (e.g. 100Mbit, 12.5MB per second).")
    var uploadLimit: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    @Option(name: .long, help: "Fault injection, for tests and drills: lose the first N aggregates that carry this node's own ack (N, or N@V for version V only).")
    var faultDropAcks: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "For tests only: run this agent's clock SECONDS ahead of the system's (behind: --clock-offset=-86400), in its heartbeats, acks and decisions.",
            valueName: "seconds", visibility: .hidden))
    var clockOffset: Int = 0

    func run() async throws {
        guard let node = NodeID(node) else { throw ValidationError("--node: \(NodeID.rule)") }
        guard let fleet = FleetName(fleet) else { throw ValidationError("--fleet: \(FleetName.rule)") }
        var roleSet = Set<Role>()
        for text in roles {
            guard let role = Role(rawValue: text) else { throw ValidationError("--roles: \(text) is not one of \(Role.spelling)") }
            roleSet.insert(role)
        }
        guard let listen = HostPort(listen) else { throw ValidationError("--listen: expected host:port") }
        let signingKey: SigningKey
        do { signingKey = try KeyFile.read(key) } catch { throw ValidationError("--key: \(error)") }
        let trusted = TrustedKeys(try ledgerKey.map { try PublicKeyArgument.read($0, option: "--ledger-key") })
        var logger = Logger(label: "ben-agent")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        var configuration = AgentConfiguration(
            node: node, fleet: fleet, roles: roleSet, key: signingKey, listen: listen,
            natsServers: nats.split(separator: ",").map(String.init), trustedLedgerKeys: trusted, stateDirectory: state)
        configuration.heartbeatEvery = .seconds(heartbeat)
        configuration.machine.orphanAfter = .seconds(orphanAfter)
        if let faultDropAcks {
            let parts = faultDropAcks.split(separator: "@", maxSplits: 1)
            guard let count = Int(parts[0]), count >= 0, parts.count == 1 || UInt64(parts[1]) != nil else {
                throw ValidationError("--fault-drop-acks: expected a count N, or N@V for version V only (e.g. 1@2)")
            }
            configuration.faultDropAcks = count
            configuration.faultDropAcksVersion = parts.count == 2 ? UInt64(parts[1]).map { Version($0) } : nil
        }
        configuration.clockOffset = .seconds(clockOffset)
        if clockOffset != 0 { logger.warning("running with a shifted clock (a test option)", metadata: ["clock_offset_s": "\(clockOffset)"]) }
        if let uploadLimit {
            guard let rate = UploadLimiter.parseRate(uploadLimit) else { throw ValidationError("--upload-limit: expected a rate such as 100Mbit") }
            configuration.uploadLimit = rate
        }
        let service = try AgentService(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            services: [AgentServiceRunner(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

/// Runs the agent inside swift-service-lifecycle: a graceful shutdown cancels it, which closes its links.
struct AgentServiceRunner: Service {
    let service: AgentService

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await service.run()
        }
    }
}
