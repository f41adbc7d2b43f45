public import BenCore

/// The fleet inventory and network shape (DESIGN §1), as read from a topology file and validated.
///
/// The hierarchy is flat arrays with index ranges (regions → zones → racks → nodes, in file order), so a
/// 100 000-node fleet is a few arrays rather than a tree of objects, and "the nodes of rack r" is a range.
/// Values that may be overridden (uplink, fan-out, in-rack link) are kept as written; the `uplink(of:)`,
/// `maxFanOut(of:)` and `link(…)` accessors resolve node → rack → defaults.
public struct Topology: Sendable, Hashable {
    public static let format = "ben/topology/v1"

    public var fleet: FleetName
    public var ledger: LedgerSpec
    /// Size of a chunk of any artifact deployed to this fleet (DESIGN §1), in bytes.
    public var chunkSize = Defaults.standardChunkSize
    /// The number of stripe trees k, when the file fixes it; nil lets the planner choose.
    public var stripes: Int?
    public var defaults = Defaults()
    public var regions: [Region]
    public var zones: [Zone]
    public var racks: [Rack]
    public var nodes: [TopologyNode]
    /// Where things were written; never part of what the topology means (equality and hashing ignore it).
    public var source = SourceMap()

    // MARK: Resolved values

    /// The node's upload cap: its own override, else its rack's, else the default.
    public func uplink(of node: Int) -> Bandwidth {
        let n = nodes[node]
        return n.uplink ?? racks[Int(n.rack)].uplink ?? defaults.uplink
    }

    /// The node's fan-out limits: defaults, then its rack's overrides, then its own.
    public func maxFanOut(of node: Int) -> FanOut {
        let n = nodes[node]
        var fanOut = defaults.maxFanOut
        if let o = racks[Int(n.rack)].maxFanOut { fanOut = o.applied(to: fanOut) }
        if let o = n.maxFanOut { fanOut = o.applied(to: fanOut) }
        return fanOut
    }

    public var ledgerUplink: Bandwidth { ledger.uplink ?? defaults.uplink }
    public var ledgerMaxFanOut: Int { ledger.maxFanOut ?? defaults.maxFanOut.total }

    /// Which boundary a peer link from node `a` to node `b` crosses.
    public func tier(from a: Int, to b: Int) -> Tier {
        let x = nodes[a]
        let y = nodes[b]
        if x.rack == y.rack { return .inRack }
        if x.zone == y.zone { return .crossRack }
        if x.region == y.region { return .crossZone }
        return .crossRegion
    }

    /// Which boundary a peer link from the ledger to node `b` crosses. The ledger sits in a zone but in no rack.
    public func tierFromLedger(to b: Int) -> Tier {
        let y = nodes[b]
        if Int(y.zone) == ledger.zone { return .crossRack }
        if Int(y.region) == ledger.region { return .crossZone }
        return .crossRegion
    }

    /// The link a peer connection crossing `tier` gets; in-rack links may be overridden per rack.
    public func link(_ tier: Tier, inRack rack: Int) -> Link {
        tier == .inRack ? (racks[rack].inRackLink ?? defaults.links.inRack) : defaults.links[tier]
    }

    /// `eu-1/a/r01`: where a node sits.
    public func location(of node: Int) -> String {
        let n = nodes[node]
        return "\(regions[Int(n.region)].name)/\(zones[Int(n.zone)].name)/\(racks[Int(n.rack)].name)"
    }

    /// `eu-1/a/r01` for rack `r`.
    public func location(ofRack r: Int) -> String {
        let rack = racks[r]
        return "\(regions[rack.region].name)/\(zones[rack.zone].name)/\(rack.name)"
    }

    /// Index of every node id; built on demand (O(N)).
    public func indexByID() -> [NodeID: Int] {
        var map: [NodeID: Int] = [:]
        map.reserveCapacity(nodes.count)
        for (i, n) in nodes.enumerated() { map[n.id] = i }
        return map
    }

    /// The nodes a deployment must reach: every node not excluded for maintenance.
    public var requiredNodes: [Int] { nodes.indices.filter { !nodes[$0].maintenance } }
}

/// Fleet-wide values that nodes and racks inherit unless they override them.
public struct Defaults: Sendable, Hashable {
    public static let standardChunkSize: Int64 = 1 << 20

    /// Each node's upload cap (its NIC), the bandwidth model's B (DESIGN §8).
    public var uplink = Bandwidth(bitsPerSecond: 10_000_000_000)!
    public var maxFanOut = FanOut()
    public var links = Defaults.standardLinks

    public static let standardLinks = PerTier(
        inRack: Link(bandwidth: Bandwidth(bitsPerSecond: 25_000_000_000)!, latency: Latency(nanoseconds: 20_000)!),
        crossRack: Link(bandwidth: Bandwidth(bitsPerSecond: 10_000_000_000)!, latency: Latency(nanoseconds: 100_000)!),
        crossZone: Link(bandwidth: Bandwidth(bitsPerSecond: 10_000_000_000)!, latency: Latency(nanoseconds: 1_000_000)!),
        crossRegion: Link(bandwidth: Bandwidth(bitsPerSecond: 10_000_000_000)!, latency: Latency(nanoseconds: 30_000_000)!))
}

/// The boundaries a peer link can cross, cheapest first.
public enum Tier: Int, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    case inRack = 0
    case crossRack = 1
    case crossZone = 2
    case crossRegion = 3

    /// The spelling in topology files and JSON.
    public var name: String {
        switch self {
        case .inRack: "in_rack"
        case .crossRack: "cross_rack"
        case .crossZone: "cross_zone"
        case .crossRegion: "cross_region"
        }
    }

    public init?(name: String) {
        guard let t = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = t
    }

    public var description: String { name }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// One value per tier.
public struct PerTier<Value: Sendable & Hashable>: Sendable, Hashable {
    public var inRack: Value
    public var crossRack: Value
    public var crossZone: Value
    public var crossRegion: Value

    public init(inRack: Value, crossRack: Value, crossZone: Value, crossRegion: Value) {
        self.inRack = inRack
        self.crossRack = crossRack
        self.crossZone = crossZone
        self.crossRegion = crossRegion
    }

    public init(repeating value: Value) {
        self.init(inRack: value, crossRack: value, crossZone: value, crossRegion: value)
    }

    public subscript(tier: Tier) -> Value {
        get {
            switch tier {
            case .inRack: inRack
            case .crossRack: crossRack
            case .crossZone: crossZone
            case .crossRegion: crossRegion
            }
        }
        set {
            switch tier {
            case .inRack: inRack = newValue
            case .crossRack: crossRack = newValue
            case .crossZone: crossZone = newValue
            case .crossRegion: crossRegion = newValue
            }
        }
    }
}

/// What one peer link across a tier gets: its bandwidth and one-way latency.
public struct Link: Sendable, Hashable {
    public var bandwidth: Bandwidth
    public var latency: Latency

    public init(bandwidth: Bandwidth, latency: Latency) {
        self.bandwidth = bandwidth
        self.latency = latency
    }
}

/// The most children a node may have in one stripe tree: in total, and for each tier the children sit across.
public struct FanOut: Sendable, Hashable {
    public var total: Int
    public var perTier: PerTier<Int>

    public init(total: Int = 16, perTier: PerTier<Int> = PerTier(inRack: 16, crossRack: 8, crossZone: 4, crossRegion: 2)) {
        self.total = total
        self.perTier = perTier
    }

    public subscript(tier: Tier) -> Int { perTier[tier] }
}

/// A partial fan-out written on a rack or node: only the limits it names replace the inherited ones.
public struct FanOutOverride: Sendable, Hashable {
    public var total: Int?
    public var perTier: PerTier<Int?>

    public init(total: Int? = nil, perTier: PerTier<Int?> = PerTier(repeating: nil)) {
        self.total = total
        self.perTier = perTier
    }

    public func applied(to base: FanOut) -> FanOut {
        var out = base
        if let total { out.total = total }
        for tier in Tier.allCases { if let v = perTier[tier] { out.perTier[tier] = v } }
        return out
    }
}

/// A set of roles, as a bit set so that 100 000 nodes' roles cost one byte each.
public struct RoleSet: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public init(_ role: Role) {
        self.init(rawValue: 1 << UInt8(Role.allCases.firstIndex(of: role)!))
    }

    public init(_ roles: some Sequence<Role>) {
        self.init()
        for role in roles { insert(RoleSet(role)) }
    }

    public func contains(_ role: Role) -> Bool { contains(RoleSet(role)) }

    /// The roles, in `Role.allCases` order.
    public var roles: [Role] { Role.allCases.filter { contains($0) } }

    public var description: String { roles.map(\.rawValue).joined(separator: ",") }
}

/// A node's Ed25519 public key as the topology lists it: 32 bytes, written as 64 hex digits.
///
/// BenTopology only carries it (it does no cryptography); BenCrypto's `PublicKey(hex:)` turns it into a key
/// that verifies the node's acks.
public struct NodeKey: Sendable, Hashable, CustomStringConvertible {
    public let w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public init(bytes: some Collection<UInt8>) {
        precondition(bytes.count == 32, "an Ed25519 public key is 32 bytes")
        (w0, w1, w2, w3) = Words256.pack(bytes)
    }

    public init(words w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }

    /// 64 hex digits, either case; nil otherwise.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 64, let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    public var bytes: [UInt8] { Words256.unpack(w0, w1, w2, w3) }

    /// Lowercase hex, the one spelling the canonical form uses.
    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}

/// How a node takes part in relaying, from the topology's tuning knobs.
public enum RelayDuty: UInt8, Sendable, Hashable {
    /// May relay; the planner decides.
    case normal
    /// Listed in `preferred_relays`: the planner puts it first when it picks who feeds a rack from outside.
    case preferred
    /// Listed in `never_relay`: a leaf in every stripe tree.
    case never
}

public struct TopologyNode: Sendable, Hashable {
    public var id: NodeID
    public var roles: RoleSet
    /// Where its peer link listens.
    public var address: HostPort
    public var key: NodeKey
    public var region: Int32
    public var zone: Int32
    public var rack: Int32
    /// Overrides as written on the node; nil inherits from the rack and defaults.
    public var uplink: Bandwidth?
    public var maxFanOut: FanOutOverride?
    public var duty = RelayDuty.normal
    /// Listed in `maintenance`: not required, and left out of every plan.
    public var maintenance = false
}

public struct Region: Sendable, Hashable {
    public var name: String
    public var zones: Range<Int>
}

public struct Zone: Sendable, Hashable {
    public var name: String
    public var region: Int
    public var racks: Range<Int>
}

public struct Rack: Sendable, Hashable {
    public var name: String
    public var region: Int
    public var zone: Int
    public var nodes: Range<Int>
    /// Overrides for every node in the rack (a node's own override wins).
    public var uplink: Bandwidth?
    public var maxFanOut: FanOutOverride?
    /// The rack's own in-rack link (its top-of-rack switch), when it differs from the default.
    public var inRackLink: Link?
}

/// The ledger as the topology places it: the seed address nodes are told, and where it sits in the network.
public struct LedgerSpec: Sendable, Hashable {
    public var address: HostPort
    /// Index of the region and zone the ledger sits in (it is in no rack).
    public var region = 0
    public var zone = 0
    public var uplink: Bandwidth?
    /// The most children the ledger has over all stripe trees together.
    public var maxFanOut: Int?
}

/// Line numbers of what a topology file wrote, so that problems found after reading (such as an unreachable
/// node) still name a line. It never affects what the topology means: all source maps compare equal.
public struct SourceMap: Sendable, Hashable {
    /// Line of each node's id, address and key, by node index; empty for a topology built in memory.
    public var nodeLines: [Int32] = []
    public var addressLines: [Int32] = []
    public var keyLines: [Int32] = []
    /// Line of named fields (`stripes`, `ledger.max_fan_out`, `tuning.never_relay`, …).
    public var fieldLines: [String: Int] = [:]
    public var file: String = ""
    /// Nodes whose address or key the reader could not read. They stand in the (invalid) topology so that
    /// references to them resolve, but their placeholder values are never compared with other nodes' (no
    /// "duplicate address" for two unreadable addresses).
    public var unreadAddresses: Set<Int> = []
    public var unreadKeys: Set<Int> = []

    public init() {}

    public func line(ofNode i: Int) -> Int { i < nodeLines.count ? Int(nodeLines[i]) : 0 }
    public func line(ofAddress i: Int) -> Int { i < addressLines.count ? Int(addressLines[i]) : line(ofNode: i) }
    public func line(ofKey i: Int) -> Int { i < keyLines.count ? Int(keyLines[i]) : line(ofNode: i) }
    public func line(of field: String) -> Int { fieldLines[field] ?? 0 }

    public static func == (_: SourceMap, _: SourceMap) -> Bool { true }
    public func hash(into hasher: inout Hasher) {}
}
