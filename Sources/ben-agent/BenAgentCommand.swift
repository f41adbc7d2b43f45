import ArgumentParser
import BenShell
public import BenAgent
import BenCore
import BenCrypto
import BenMetrics
public import BenOperations
import BenPeerLink
import BenTopology
import Foundation
import Logging
import ServiceLifecycle

/// `ben-agent`: one per component host. Parsing and wiring only; the work is `AgentService`.
///
/// Every setting can come from a flag or from the config file (`--config`, docs/operations.md); a flag wins. Options
/// therefore have no parser defaults: the defaults are applied after the file is read. The options every daemon
/// takes are `DaemonOptions` and `GossipOptions`, and `DaemonRunner` runs the service.
@main
struct BenAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ben-agent",
        abstract: "Run a Ben agent: verify, relay, compile, hot-swap and ack the fleet's intent on this host.",
        discussion: DaemonOptions.discussion,
        version: BenRelease.current)

    @OptionGroup var daemon: DaemonOptions
    @OptionGroup var gossip: GossipOptions

    @Option(name: .long, help: "This node's id, as the topology lists it.")
    var node: String?

    @Option(name: .long, parsing: .upToNextOption, help: "The roles this node runs (\(Role.spelling)).")
    var roles: [String] = []

    @Option(name: .long, help: "Where the peer link listens (host:port), as the topology lists it.")
    var listen: String?

    @Option(name: .long, parsing: .upToNextOption, help: "Trusted ledger public keys (64 hex digits) or files holding one.")
    var ledgerKey: [String] = []

    @Option(name: .long, help: "The state directory (store and durable record).")
    var state: String?

    @Option(name: .long, help: "Seconds between heartbeats, ±20 % (default 30).")
    var heartbeat: Int?

    @Option(name: .long, help: "Seconds to wait for a parent before pulling from the ledger's store (default 10).")
    var orphanAfter: Int?

    @Option(
        name: .long,
        help: "The fleet's topology file: gossip's roster (every node, its location and key) and the byte metrics' tiers (default: gossip fetches the topology the ledger's signed announcement names; tiers \"unknown\").")
    var topology: String?

    @Option(name: .long, help: "Fault injection, for tests and drills: lose the first N aggregates that carry this node's own ack (N, or N@V for version V only).")
    var faultDropAcks: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "For tests only: run this agent's clock SECONDS ahead of the system's (behind: --clock-offset=-86400), in its heartbeats, acks and decisions.",
            valueName: "seconds", visibility: .hidden))
    var clockOffset: Int = 0

    /// The agent's own config-file keys, beside `DaemonOptions.keys` and `GossipOptions.keys`.
    static let keys = ["node", "roles", "listen", "ledger_key", "state", "heartbeat", "orphan_after", "topology"] + GossipOptions.keys

    var flags: [String: DaemonSettings.Flag] {
        DaemonSettings.flags(
            strings: [("node", node), ("listen", listen), ("state", state), ("topology", topology)],
            ints: [("heartbeat", heartbeat), ("orphan_after", orphanAfter)], lists: [("roles", roles), ("ledger_key", ledgerKey)]
        ).merging(gossip.flags) { $1 }
    }

    func run() async throws {
        ProcessMemory.reuseChunkBuffers()
        let (settings, logger) = try await daemon.settings(label: "ben-agent", flags: flags, known: Self.keys)
        var (configuration, metricsAddress) = try Self.wiring(settings)
        // Test and drill options: flags only, never from a config file.
        if let faultDropAcks {
            let parts = faultDropAcks.split(separator: "@", maxSplits: 1)
            guard let count = Int(parts[0]), count >= 0, parts.count == 1 || UInt64(parts[1]) != nil else {
                throw ValidationError("--fault-drop-acks: expected a count N, or N@V for version V only (e.g. 1@2)")
            }
            configuration.faultDropAcks = count
            configuration.faultDropAcksVersion = parts.count == 2 ? UInt64(parts[1]).map { Version($0) } : nil
        }
        configuration.clockOffset = .seconds(clockOffset)
        configuration.gossip.faultPartitionFile = gossip.faultGossipPartition
        if clockOffset != 0 { logger.warning("running with a shifted clock (a test option)", metadata: ["clock_offset_s": "\(clockOffset)"]) }
        try await DaemonRunner.run(process: .agent, metrics: metricsAddress, logger: logger) {
            try AgentService(configuration: configuration, logger: logger)
        }
    }

    /// Turns settings into the service's configuration and the metrics listener's address, or a one-line error.
    static func wiring(_ settings: DaemonSettings) throws -> (AgentConfiguration, HostPort?) {
        do {
            guard let node = NodeID(try settings.required("node")) else { throw ValidationError("--node: \(NodeID.rule)") }
            let fleet = try settings.fleet()
            var roleSet = Set<Role>()
            for text in settings.list("roles") ?? [] {
                guard let role = Role(rawValue: text) else { throw ValidationError("--roles: \(text) is not one of \(Role.spelling)") }
                roleSet.insert(role)
            }
            guard !roleSet.isEmpty else { throw ValidationError("--roles: name at least one role (\(Role.spelling))") }
            let listenText = try settings.required("listen")
            guard let listen = HostPort(listenText) else { throw ValidationError("--listen: expected host:port, not '\(listenText)'") }
            let signingKey = try settings.signingKey()
            let trusted = try settings.trustedKeys("ledger_key")
            guard !trusted.isEmpty else { throw ValidationError("--ledger-key: name at least one ledger public key") }
            var configuration = AgentConfiguration(
                node: node, fleet: fleet, roles: roleSet, key: signingKey, listen: listen,
                natsServers: settings.natsServers, trustedLedgerKeys: trusted,
                stateDirectory: try settings.required("state"))
            configuration.natsCredentials = settings.natsCredentials
            configuration.heartbeatEvery = .seconds(try settings.int("heartbeat", default: 30))
            configuration.machine.orphanAfter = .seconds(try settings.int("orphan_after", default: 10))
            configuration.uploadLimit = try settings.uploadLimit()
            configuration.linkEncryption = try settings.linkEncryption()
            if let path = settings.string("topology") {
                let topology = try readTopology(path)
                configuration.tiers = TierMap(topology)
                configuration.gossip.topology = topology
            }
            configuration.gossip.enabled = try settings.onOff("gossip")
            return (configuration, try settings.address("metrics_listen"))
        } catch let error as OperationsError {
            throw error.asCommandError
        }
    }

    static func readTopology(_ path: String) throws -> Topology {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch { throw ValidationError("--topology: cannot read \(path)") }
        let parsed = Topology.parse(yaml: text, file: path)
        guard let topology = parsed.topology else {
            throw ValidationError("--topology: " + (parsed.errors.first.map { "\($0)" } ?? "\(path) is not a topology file"))
        }
        return topology
    }
}

/// The shared runner runs the service (a conformance of a public type, hence the public imports).
extension AgentService: OperatedService {}
