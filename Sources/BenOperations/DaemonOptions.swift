public import ArgumentParser
public import BenCore
public import BenCrypto
import BenTopology
public import Logging
public import ServiceLifecycle

/// The options every Ben daemon takes (`ben-agent` and `ben-ledger` include them with `@OptionGroup`): the config
/// file, the fleet, NATS, the key, the upload cap, logging and the metrics listener.
///
/// Every setting can come from a flag or from the config file (`--config`, docs/operations.md); a flag wins. Options
/// therefore have no parser defaults: the defaults are applied after the file is read.
public struct DaemonOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "A config file (YAML, or JSON if it ends in .json); flags override it.")
    public var config: String?

    @Option(name: .long, help: "The fleet name.")
    public var fleet: String?

    @Option(name: .long, help: "NATS server URL(s), comma-separated (default nats://127.0.0.1:4222).")
    public var nats: String?

    @Option(
        name: .long,
        help: "NATS credentials file for this process, as `benctl nats config` writes them (or a .creds file); default: none.")
    public var natsCreds: String?

    @Option(
        name: .long,
        help: "This process's Ed25519 key file (32-byte seed, mode 0600): a node's public half is in the topology, the ledger's signs announcements.")
    public var key: String?

    @Option(name: .long, help: "Cap this process's upload over all peer links, spelt as in topology files: 100Mbit, 1Gbit/s, 12.5MB/s.")
    public var uploadLimit: String?

    @Option(
        name: .long,
        help: "Peer link records encrypted: on (the default) or off. Off, links are still mutually authenticated; only for measuring what encryption costs, or a network that is itself trusted.")
    public var linkEncryption: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error (default info).")
    public var logLevel: String?

    @Option(name: .long, help: "Log format: text, or json for one object per line (default text).")
    public var logFormat: String?

    @Option(name: .long, help: "Serve /metrics, /healthz and /readyz on host:port (default: off).")
    public var metricsListen: String?

    public init() {}

    /// What every daemon's help says of where settings come from.
    public static let discussion = "Settings come from flags, then from --config FILE (YAML or JSON; keys are the flag names with underscores)."

    /// The config-file keys of these options.
    public static let keys = ["fleet", "nats", "nats_creds", "key", "upload_limit", "link_encryption", "log_level", "log_format", "metrics_listen"]

    /// The options given on the command line, as settings keyed like the config file.
    public var flags: [String: DaemonSettings.Flag] {
        DaemonSettings.flags(strings: [
            ("fleet", fleet), ("nats", nats), ("nats_creds", natsCreds), ("key", key), ("upload_limit", uploadLimit),
            ("link_encryption", linkEncryption), ("log_level", logLevel), ("log_format", logFormat), ("metrics_listen", metricsListen),
        ])
    }

    /// Reads the config file under the flags (these options' and the daemon's own `flags`), then installs the log
    /// format and returns the daemon's logger. `known` lists the daemon's own keys beside `DaemonOptions.keys`.
    ///
    /// - Throws: `ValidationError` with the line to print.
    public func settings(label: String, flags own: [String: DaemonSettings.Flag], known: [String]) async throws
        -> (DaemonSettings, Logger)
    {
        do {
            let settings = try await DaemonSettings.load(
                file: config, flags: flags.merging(own) { $1 }, known: Self.keys + known)
            let logger = try DaemonLogging.bootstrap(
                label: label, format: settings.string("log_format") ?? "text", level: settings.string("log_level") ?? "info")
            return (settings, logger)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// Gossip's options, which both daemons take (`@OptionGroup`): whether to gossip, and a test-only partition.
public struct GossipOptions: ParsableArguments, Sendable {
    @Option(
        name: .long,
        help: "Gossip (membership, announcements and acks peer to peer over UDP on the peer-link port: the agent's --listen, the ledger's --seed-listen): on or off (default on).")
    public var gossip: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "For tests only: while FILE exists, drop gossip to and from the nodes it lists (one id per line), as if the network between them were cut.",
            valueName: "file", visibility: .hidden))
    public var faultGossipPartition: String?

    public init() {}

    /// The config-file keys of these options (the partition is a flag only, never from a config file).
    public static let keys = ["gossip"]

    public var flags: [String: DaemonSettings.Flag] { DaemonSettings.flags(strings: [("gossip", gossip)]) }
}

extension DaemonSettings {
    /// Flags given on a command line, keyed like the config file; options left out are not flags.
    public static func flags(
        strings: [(String, String?)] = [], ints: [(String, Int?)] = [], lists: [(String, [String])] = [], switches: [(String, Bool)] = []
    ) -> [String: Flag] {
        var flags: [String: Flag] = [:]
        for case (let name, let value?) in strings { flags[name] = .string(value) }
        for case (let name, let value?) in ints { flags[name] = .int(value) }
        for (name, value) in lists where !value.isEmpty { flags[name] = .list(value) }
        for (name, on) in switches where on { flags[name] = .string("true") }
        return flags
    }

    /// The fleet, which every daemon needs.
    public func fleet() throws -> FleetName {
        guard let fleet = FleetName(try validated { () throws(OperationsError) in try required("fleet") }) else {
            throw ValidationError("--fleet: \(FleetName.rule)")
        }
        return fleet
    }

    /// The NATS servers, with the local default.
    public var natsServers: [String] { list("nats") ?? ["nats://127.0.0.1:4222"] }

    /// The NATS credentials file (`--nats-creds`), if one is given.
    public var natsCredentials: String? { string("nats_creds") }

    /// The daemon's signing key, read from its key file.
    ///
    /// - Throws: `ValidationError` when no key is named (a usage error); `OperationsError.keyFile` when the file
    ///   cannot be used (missing, a directory, readable by others, not a key): one line, exit 1, no usage.
    public func signingKey() throws -> SigningKey {
        let path = try validated { () throws(OperationsError) in try required("key") }
        do { return try KeyFile.read(path) } catch { throw OperationsError.keyFile(option: "--key", error) }
    }

    /// The public keys a list setting names (`ledger_key`, `operator_key`), each 64 hex digits or a file holding one;
    /// a directory is refused as one.
    public func trustedKeys(_ key: String) throws -> TrustedKeys {
        let option = "--\(key.flagName)"
        return TrustedKeys(
            try (list(key) ?? []).map { text in
                if KeyFile.isDirectory(text) { throw OperationsError.keyFile(option: option, .isDirectory(path: text)) }
                return try PublicKeyArgument.read(text, option: option)
            })
    }

    /// The upload cap in bytes per second, if one is set.
    public func uploadLimit() throws -> Double? {
        guard let text = string("upload_limit") else { return nil }
        guard let rate = Bandwidth(parsing: text) else { throw ValidationError("--upload-limit: '\(text)' is not \(Bandwidth.rule)") }
        return rate.bytesPerSecond
    }

    /// Whether peer link records are encrypted (`link_encryption`: on, the default, or off).
    public func linkEncryption() throws -> Bool { try onOff("link_encryption") }

    /// An on/off setting (`link_encryption`, `gossip`): on unless it says off (or false, or no).
    public func onOff(_ key: String) throws -> Bool {
        switch string(key)?.lowercased() {
        case nil, "on", "true", "yes": return true
        case "off", "false", "no": return false
        case let other?: throw ValidationError("--\(key.flagName): expected on or off, not '\(other)'")
        }
    }

    /// A listener's address (`metrics_listen`, `status_listen`), if one is set.
    public func address(_ key: String) throws -> HostPort? {
        guard let text = string(key) else { return nil }
        guard let address = HostPort(text) else { throw ValidationError("--\(key.flagName): expected host:port, not '\(text)'") }
        return address
    }

    /// Runs `read`, turning a missing or invalid setting into the line to print: a usage error (exit 64), except a
    /// key file that cannot be used, which is one line and exit 1.
    public func validated<T>(_ read: () throws(OperationsError) -> T) throws -> T {
        do { return try read() } catch { throw error.asCommandError }
    }
}

extension OperationsError {
    /// How a daemon command throws it: a bad flag or setting is a usage error (`ValidationError`: exit 64 with the
    /// usage); a key file that cannot be used is not, and stays itself (one line, exit 1).
    public var asCommandError: any Error {
        if case .keyFile = self { return self }
        return ValidationError(description)
    }
}

/// Runs a daemon's service inside swift-service-lifecycle: a graceful shutdown cancels it, which closes its links.
public struct DaemonService: Service {
    let body: @Sendable () async throws -> Void

    public init(_ body: @escaping @Sendable () async throws -> Void) {
        self.body = body
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await body()
        }
    }

    /// Runs `services` as one group until SIGTERM or SIGINT.
    public static func runGroup(_ services: [any Service], logger: Logger) async throws {
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
