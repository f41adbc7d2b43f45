public import BenCore

/// What one deployment asks of the planner, besides the topology.
public struct Deployment: Sendable, Hashable {
    public var version: Version
    /// Key (BLAKE2b-256) of the topology's canonical bytes; the plan records it. BenTopology does no hashing:
    /// the caller hashes `Topology.canonicalBytes` (BenCrypto's `BLAKE2b.key(of:)`).
    public var topologyKey: Key
    /// Which nodes the deployment targets.
    public var selector: Selector
    /// Seeds every choice the planner makes by chance; a new seed rotates relay duty. Defaults to the version.
    public var seed: UInt64
    /// Nodes known to be down: left out of the plan (they catch up as orphans, DESIGN §3 step 10).
    public var down: [NodeID]
    /// The number of stripe trees k; nil uses the topology's `stripes`, or lets the planner choose.
    public var stripes: Int?
    /// Bundle size in bytes, used only to choose k when nobody fixed it; nil uses `Planner.Settings.bundleSize`.
    public var bundleSize: Int64?

    public init(
        version: Version, topologyKey: Key, selector: Selector = .all, seed: UInt64? = nil, down: [NodeID] = [],
        stripes: Int? = nil, bundleSize: Int64? = nil
    ) {
        self.version = version
        self.topologyKey = topologyKey
        self.selector = selector
        self.seed = seed ?? version.rawValue
        self.down = down
        self.stripes = stripes
        self.bundleSize = bundleSize
    }
}

/// Which nodes a deployment targets. A node is targeted when it matches every part that is not empty.
public struct Selector: Sendable, Hashable, CustomStringConvertible {
    /// Nodes with at least one of these roles; empty means any role.
    public var roles: [Role]
    /// Nodes under one of these locations: `eu-1`, `eu-1/a` or `eu-1/a/r01`; empty means anywhere.
    public var locations: [String]
    /// Exactly these nodes; empty means any node.
    public var nodes: [NodeID]

    public init(roles: [Role] = [], locations: [String] = [], nodes: [NodeID] = []) {
        self.roles = roles
        self.locations = locations
        self.nodes = nodes
    }

    public static let all = Selector()

    public var description: String {
        var parts: [String] = []
        if !roles.isEmpty { parts.append("roles \(roles.map(\.rawValue).joined(separator: ","))") }
        if !locations.isEmpty { parts.append("in \(locations.joined(separator: ","))") }
        if !nodes.isEmpty { parts.append("\(nodes.count) named nodes") }
        return parts.isEmpty ? "every node" : parts.joined(separator: ", ")
    }
}

/// A targeted node the plan leaves out, and why.
public struct Exclusion: Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        /// Listed in the topology's `maintenance`.
        case maintenance
        /// Named in the deployment's `down`.
        case down
        /// No parent could be found under the fan-out, uplink and relay constraints.
        case unreachable
    }

    public var node: NodeID
    public var reason: Reason

    public var description: String { "\(node) (\(reason.rawValue))" }
}
