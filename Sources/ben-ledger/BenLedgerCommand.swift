import ArgumentParser
import BenShell
import BenCore
import BenCrypto
public import BenLedger
public import BenOperations
import BenPeerLink
import BenTopology
import Logging
import ServiceLifecycle

/// `ben-ledger`: parsing and wiring only; the work is `LedgerService`.
///
/// Every setting can come from a flag or from the config file (`--config`, docs/operations.md); a flag wins. Options
/// therefore have no parser defaults: the defaults are applied after the file is read. The options every daemon
/// takes are `DaemonOptions` and `GossipOptions`, and `DaemonRunner` runs the service.
@main
struct BenLedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ben-ledger",
        abstract: "Run the Ben ledger: stage, version, sign, plan, seed, verify acks and keep history for one fleet.",
        discussion: DaemonOptions.discussion,
        version: BenRelease.current)

    @OptionGroup var daemon: DaemonOptions
    @OptionGroup var gossip: GossipOptions

    @Option(name: .long, help: "The data directory (SQLite state and the chunk store).")
    var data: String?

    @Option(name: .long, parsing: .upToNextOption, help: "Trusted operator public keys (64 hex digits) or files holding one.")
    var operatorKey: [String] = []

    @Option(name: .long, help: "Where the seed listener accepts pulls (host:port); nodes learn it from announcements (default 127.0.0.1:7400).")
    var seedListen: String?

    @Option(name: .long, help: "Default deployment timeout in seconds (default 120).")
    var timeout: Int?

    @Option(name: .long, help: "Seconds without a heartbeat after which a node counts as silent (drift) and is planned around (default 90).")
    var silentAfter: Int?

    @Option(name: .long, help: "Serve the live status page on host:port (default: off).")
    var statusListen: String?

    @Option(name: .long, help: "How this ledger names itself in the fleet's lease (default: host and pid).")
    var name: String?

    @Option(
        name: .long,
        help: "Seconds the fleet's ledger lease lasts after each renewal (renewed every third of it); a standby takes over once it lapses (default 15).")
    var leaseTtl: Int?

    @Flag(name: .long, help: "If another ledger holds the fleet's lease, wait and take over when it lapses instead of exiting 1.")
    var standby = false

    @Option(name: .long, help: "Copies of the ledger's JetStream streams and key-value buckets in a NATS cluster, never lowered (default 1).")
    var replicas: Int?

    @Option(name: .long, help: "Seconds a node's heartbeat clock may be off before `status --drift` shows it as clock_skew (default 30).")
    var clockSkewTolerance: Int?

    /// The ledger's own config-file keys, beside `DaemonOptions.keys` and `GossipOptions.keys`.
    static let keys =
        ["data", "operator_key", "seed_listen", "timeout", "silent_after", "status_listen", "name", "lease_ttl", "standby", "replicas", "clock_skew_tolerance"]
        + GossipOptions.keys

    var flags: [String: DaemonSettings.Flag] {
        DaemonSettings.flags(
            strings: [("data", data), ("seed_listen", seedListen), ("status_listen", statusListen), ("name", name)],
            ints: [
                ("timeout", timeout), ("silent_after", silentAfter), ("lease_ttl", leaseTtl), ("replicas", replicas),
                ("clock_skew_tolerance", clockSkewTolerance),
            ],
            lists: [("operator_key", operatorKey)], switches: [("standby", standby)]
        ).merging(gossip.flags) { $1 }
    }

    func run() async throws {
        ProcessMemory.reuseChunkBuffers()
        let (settings, logger) = try await daemon.settings(label: "ben-ledger", flags: flags, known: Self.keys)
        var (configuration, listeners) = try Self.wiring(settings)
        // Test and drill options: flags only, never from a config file.
        configuration.gossip.faultPartitionFile = gossip.faultGossipPartition
        try await DaemonRunner.run(process: .ledger, metrics: listeners.metrics, logger: logger) {
            try LedgerService(configuration: configuration, logger: logger)
        } listeners: { service, health in
            guard let address = listeners.status else { return [] }
            let status = OperationsServer.StatusSource(
                fingerprint: { await service.statusPageFingerprint() }, document: { await service.statusPage() })
            return [OperationsServer.statusListener(at: address, status: status, health: health, logger: logger)]
        }
    }

    /// Turns settings into the service's configuration and the listeners' addresses, or a one-line error.
    static func wiring(_ settings: DaemonSettings) throws -> (LedgerConfiguration, (metrics: HostPort?, status: HostPort?)) {
        do {
            let fleet = try settings.fleet()
            let seedText = settings.string("seed_listen") ?? "127.0.0.1:7400"
            guard let listen = HostPort(seedText) else { throw ValidationError("--seed-listen: expected host:port, not '\(seedText)'") }
            let signingKey = try settings.signingKey()
            let operators = try settings.trustedKeys("operator_key")
            guard !operators.isEmpty else { throw ValidationError("--operator-key: name at least one operator's public key") }
            let servers = settings.natsServers
            var configuration = LedgerConfiguration(
                fleet: fleet, natsServers: servers, dataDirectory: try settings.required("data"), key: signingKey, operators: operators,
                seedListen: listen)
            configuration.natsCredentials = settings.natsCredentials
            configuration.defaultTimeout = .seconds(try settings.int("timeout", default: 120))
            configuration.silentAfter = .seconds(try settings.int("silent_after", default: 90))
            configuration.uploadLimit = try settings.uploadLimit()
            configuration.linkEncryption = try settings.linkEncryption()
            let leaseTtl = try settings.int("lease_ttl", default: 15)
            guard leaseTtl >= 1, leaseTtl <= 3600 else { throw ValidationError("--lease-ttl: expected 1 to 3600 seconds, found \(leaseTtl)") }
            configuration.leaseTTL = .seconds(leaseTtl)
            configuration.standby = settings.string("standby").map { ["true", "yes", "1"].contains($0.lowercased()) } ?? false
            let replicas = try settings.int("replicas", default: 1)
            guard (1...5).contains(replicas) else { throw ValidationError("--replicas: expected 1 to 5 (JetStream's limit), found \(replicas)") }
            configuration.replicas = replicas
            let skew = try settings.int("clock_skew_tolerance", default: 30)
            guard skew > 0 else { throw ValidationError("--clock-skew-tolerance: expected a positive number of seconds") }
            configuration.clockSkewTolerance = .seconds(skew)
            configuration.gossip.enabled = try settings.onOff("gossip")
            if let name = settings.string("name") {
                guard !name.isEmpty, name.utf8.count <= 200 else { throw ValidationError("--name: expected 1 to 200 characters") }
                configuration.name = name
            }
            return (configuration, (try settings.address("metrics_listen"), try settings.address("status_listen")))
        } catch let error as OperationsError {
            throw error.asCommandError
        }
    }
}

/// The shared runner runs the service (a conformance of a public type, hence the public imports).
extension LedgerService: OperatedService {}
