import ArgumentParser
import BenCore
import BenCrypto
import BenLedger
import BenPeerLink
import Logging
import ServiceLifecycle

/// `ben-ledger`: parsing and wiring only; the work is `LedgerService`.
@main
struct BenLedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ben-ledger",
        abstract: "Run the Ben ledger: stage, version, sign, plan, seed, verify acks and keep history for one fleet.")

    @Option(name: .long, help: "The fleet name.")
    var fleet: String

    @Option(name: .long, help: "NATS server URL(s), comma-separated.")
    var nats: String = "nats://127.0.0.1:4222"

    @Option(name: .long, help: "The data directory (SQLite state and the chunk store).")
    var data: String

    @Option(name: .long, help: "The ledger's Ed25519 key file (32-byte seed, mode 0600): it signs announcements.")
    var key: String

    @Option(name: .long, parsing: .upToNextOption, help: "Trusted operator public keys (64 hex digits) or files holding one.")
    var operatorKey: [String]

    @Option(name: .long, help: "Where the seed listener accepts pulls (host:port); nodes learn it from announcements.")
    var seedListen: String = "127.0.0.1:7400"

    @Option(name: .long, help: "Default deployment timeout in seconds.")
    var timeout: Int = 120

    @Option(name: .long, help: "Seconds without a heartbeat after which a node counts as silent (drift) and is planned around.")
    var silentAfter: Int = 90

    @Option(name: .long, help: "Cap this process's upload over all peer links (e.g. 100Mbit, 12.5MB per second).")
    var uploadLimit: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    @Option(name: .long, help: "How this ledger names itself in the fleet's lease (default: host and pid).")
    var name: String?

    @Option(
        name: .long,
        help: "Seconds the fleet's ledger lease lasts after each renewal (renewed every third of it); a standby takes over once it lapses.")
    var leaseTtl: Double = 15

    @Flag(name: .long, help: "If another ledger holds the fleet's lease, wait and take over when it lapses instead of exiting 1.")
    var standby = false

    @Option(name: .long, help: "Copies of the ledger's JetStream streams and key-value buckets in a NATS cluster (never lowered).")
    var replicas: Int = 1

    @Option(name: .long, help: "Seconds a node's heartbeat clock may be off before `status --drift` shows it as clock_skew.")
    var clockSkewTolerance: Int = 30

    func run() async throws {
        guard let fleet = FleetName(fleet) else { throw ValidationError("--fleet: \(FleetName.rule)") }
        guard let listen = HostPort(seedListen) else { throw ValidationError("--seed-listen: expected host:port") }
        let signingKey: SigningKey
        do { signingKey = try KeyFile.read(key) } catch { throw ValidationError("--key: \(error)") }
        guard !operatorKey.isEmpty else { throw ValidationError("--operator-key: name at least one operator's public key") }
        let operators = TrustedKeys(try operatorKey.map { try PublicKeyArgument.read($0, option: "--operator-key") })
        var logger = Logger(label: "ben-ledger")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        var configuration = LedgerConfiguration(
            fleet: fleet, natsServers: nats.split(separator: ",").map(String.init), dataDirectory: data, key: signingKey,
            operators: operators, seedListen: listen)
        configuration.defaultTimeout = .seconds(timeout)
        configuration.silentAfter = .seconds(silentAfter)
        guard leaseTtl >= 1, leaseTtl <= 3600 else { throw ValidationError("--lease-ttl: expected 1 to 3600 seconds, found \(leaseTtl)") }
        configuration.leaseTTL = .milliseconds(Int64(leaseTtl * 1000))
        configuration.standby = standby
        guard (1...5).contains(replicas) else { throw ValidationError("--replicas: expected 1 to 5 (JetStream's limit), found \(replicas)") }
        configuration.replicas = replicas
        guard clockSkewTolerance > 0 else { throw ValidationError("--clock-skew-tolerance: expected a positive number of seconds") }
        configuration.clockSkewTolerance = .seconds(clockSkewTolerance)
        if let name {
            guard !name.isEmpty, name.utf8.count <= 200 else { throw ValidationError("--name: expected 1 to 200 characters") }
            configuration.name = name
        }
        if let uploadLimit {
            guard let rate = UploadLimiter.parseRate(uploadLimit) else { throw ValidationError("--upload-limit: expected a rate such as 100Mbit") }
            configuration.uploadLimit = rate
        }
        let service = try LedgerService(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            services: [LedgerServiceRunner(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

struct LedgerServiceRunner: Service {
    let service: LedgerService

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await service.run()
        }
    }
}
