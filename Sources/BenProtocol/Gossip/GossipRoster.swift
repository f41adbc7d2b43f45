public import BenCore

/// Where a node sits: indices of its region, zone and rack in the topology (as `TopologyNode` holds them).
/// Zone and rack indices are fleet-wide, so two nodes share a rack exactly when their `rack` values are equal.
public struct GossipLocation: Sendable, Hashable {
    /// Index of the node's region.
    public var region: Int32
    /// Index of its zone, fleet-wide.
    public var zone: Int32
    /// Index of its rack, fleet-wide.
    public var rack: Int32

    /// A location from the topology's indices.
    public init(region: Int32, zone: Int32, rack: Int32) {
        self.region = region
        self.zone = zone
        self.rack = rack
    }
}

/// One node the topology lists, as gossip sees it: its id and where it sits. Its key stays with the shell, which
/// authenticates every datagram against it before a machine sees the datagram.
public struct GossipPeer: Sendable, Hashable {
    /// The node's id.
    public var node: NodeID
    /// Where it sits.
    public var location: GossipLocation

    /// A peer at `location`.
    public init(node: NodeID, location: GossipLocation) {
        self.node = node
        self.location = location
    }
}

/// Every node the topology lists: the only nodes that can ever be members. A node that is not on the roster has
/// no key the shell trusts, so nothing it sends can verify, and the machines refuse it by name as well.
///
/// The peers are kept sorted by (region, zone, rack, id), so each rack, zone and region is one contiguous range:
/// peer selection samples "in my zone but not my rack" as a range minus a sub-range, in O(1) per pick, which is
/// what lets a 100 000-node fleet choose every node's view in well under a second. A roster is a value whose
/// storage is shared by every copy, so a simulator holding 100 000 machines holds one roster.
public struct GossipRoster: Sendable {
    /// Sorted by (region, zone, rack, id).
    public let peers: [GossipPeer]
    let index: [NodeID: Int32]
    let rackRange: [Int32: Range<Int>]
    let zoneRange: [Int32: Range<Int>]
    let regionRange: [Int32: Range<Int>]

    /// A roster of `unsorted`, in any order; it sorts them.
    public init(_ unsorted: [GossipPeer]) {
        var peers = unsorted
        peers.sort {
            let a = $0.location
            let b = $1.location
            return (a.region, a.zone, a.rack) != (b.region, b.zone, b.rack)
                ? (a.region, a.zone, a.rack) < (b.region, b.zone, b.rack) : $0.node < $1.node
        }
        var index: [NodeID: Int32] = [:]
        index.reserveCapacity(peers.count)
        var racks: [Int32: Range<Int>] = [:]
        var zones: [Int32: Range<Int>] = [:]
        var regions: [Int32: Range<Int>] = [:]
        func extend(_ map: inout [Int32: Range<Int>], _ key: Int32, _ i: Int) {
            if let r = map[key] { map[key] = r.lowerBound..<(i + 1) } else { map[key] = i..<(i + 1) }
        }
        for (i, peer) in peers.enumerated() {
            index[peer.node] = Int32(i)
            extend(&racks, peer.location.rack, i)
            extend(&zones, peer.location.zone, i)
            extend(&regions, peer.location.region, i)
        }
        self.peers = peers
        self.index = index
        rackRange = racks
        zoneRange = zones
        regionRange = regions
    }

    /// How many nodes the roster lists.
    public var count: Int { peers.count }

    /// Whether `node` is on the roster.
    public func contains(_ node: NodeID) -> Bool { index[node] != nil }

    /// Where `node` sits, or nil if it is not on the roster.
    public func location(of node: NodeID) -> GossipLocation? { index[node].map { peers[Int($0)].location } }

    /// The node's position in the sorted roster.
    public func position(of node: NodeID) -> Int? { index[node].map(Int.init) }
}

/// The shell's verdict on a datagram, handed to a machine with it: the datagram's signature checked out against
/// its sender's topology key, and any document it carries is signed by a key trusted for its kind.
///
/// A machine never lets a refused datagram change its state; it answers `.refused(from:reason:)` so the shell can
/// log and count it.
public enum GossipAuthentication: Sendable, Hashable {
    case verified
    case refused(String)
}
