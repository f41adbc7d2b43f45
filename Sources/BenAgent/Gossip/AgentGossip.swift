import BenCore
import BenFiles
public import BenProtocol
import BenShell
public import BenTopology
import Foundation

/// How an agent gossips (docs/gossip.md, docs/operations.md): on by default. Its roster (every node, its location
/// and its key) comes from the topology: `--topology FILE` if given, else the one the ledger serves, fetched over
/// NATS once an accepted announcement names it and accepted only if its key is that announcement's `topology` (so
/// the ledger's signature vouches for every key in it), then kept in the state directory for the next start.
public struct AgentGossipConfiguration: Sendable {
    /// `--gossip off` turns it off: no socket, no membership; everything else works as before.
    public var enabled = true
    /// `--topology FILE`, read at start (the operator vouches for it).
    public var topology: Topology?
    public var settings = GossipMachine.Settings()
    /// Test-only (`--fault-gossip-partition FILE`): while the file exists, gossip with the nodes it lists is dropped.
    public var faultPartitionFile: String?

    public init() {}
}

/// What the agent's shell keeps about its gossip: the running shell and directory, and what it last told the shell,
/// so each change is told once.
struct AgentGossip {
    var shell: GossipShell?
    var directory: GossipDirectory?
    var told: GossipMachine.VersionState?
    var watching: [NodeID] = []
    /// A topology request to the ledger is in flight.
    var fetching = false
    /// The newest version whose announcement reached this node the way the whole fleet gets it (the fleet's
    /// announcement subject or its stream, or gossip): only such announcements are gossiped on. A rollout wave's
    /// announcement, sent to its nodes by name (and on in their parents' HELLOs), stays with the wave.
    var fleetWide: Version = .none
    /// New directories for `runGossip` to start a shell on (the first one, and each newer topology).
    let restarts = GossipRestarts()
}

/// The topology the agent fetched from the ledger and checked, kept beside its state so that a restart (even one
/// without NATS) gossips at once.
struct CachedTopology {
    let path: String

    init(stateDirectory: String) {
        path = stateDirectory + "/gossip-topology.yaml"
    }

    func load() throws -> Topology? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try Topology(yaml: text, file: path)
    }

    func save(_ yaml: String) throws {
        try AtomicFile.write(Array(yaml.utf8), to: path)
    }
}
