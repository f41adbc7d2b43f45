public import BenCore

/// A selector as an operator typed it (`--roles`, `--nodes`, `--locations`): names, not yet checked.
///
/// Nothing an operator names is ever dropped: `Selector.checked` either turns every name into a selector that
/// selects at least one node, or refuses the whole request naming each unknown name and the nearest known one.
public struct SelectorRequest: Sendable, Hashable {
    public var roles: [String]
    public var locations: [String]
    public var nodes: [String]

    public init(roles: [String] = [], locations: [String] = [], nodes: [String] = []) {
        self.roles = roles
        self.locations = locations
        self.nodes = nodes
    }

    /// No part given: the whole fleet.
    public var isEmpty: Bool { roles.isEmpty && locations.isEmpty && nodes.isEmpty }

    /// What each part is called where the operator wrote it (a flag, or a request field), for error lines.
    public struct Fields: Sendable, Hashable {
        public var roles: String
        public var locations: String
        public var nodes: String

        public init(roles: String, locations: String, nodes: String) {
            self.roles = roles
            self.locations = locations
            self.nodes = nodes
        }

        /// `benctl deploy`'s flags.
        public static let flags = Fields(roles: "--roles", locations: "--locations", nodes: "--nodes")
    }
}

/// A name a selector gave that the fleet does not know, with the known name nearest to it (edit distance).
public struct UnknownName: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case role
        case node
        case location
    }

    public var kind: Kind
    public var name: String
    /// Where it was written: `--roles`, `--node`, …
    public var field: String
    /// The known name closest to `name`; nil only when nothing of that kind exists.
    public var nearest: String?

    /// `--roles: unknown role 'prox' (nearest: proxy)`.
    public var description: String {
        "\(field): unknown \(kind.rawValue) '\(name)'" + (nearest.map { " (nearest: \($0))" } ?? " (there are none)")
    }
}

extension Selector {
    /// Reads role names against the closed list of roles; needs no topology, so benctl checks them before it
    /// talks to anyone. Returns the roles and every unknown name (with the nearest role).
    public static func roles(_ names: [String], field: String = "--roles") -> (roles: [Role], unknown: [UnknownName]) {
        var roles: [Role] = []
        var unknown: [UnknownName] = []
        for name in names {
            if let role = Role(rawValue: name) {
                if !roles.contains(role) { roles.append(role) }
            } else {
                unknown.append(UnknownName(kind: .role, name: name, field: field, nearest: Nearest.name(to: name, in: Role.allCases.map(\.rawValue))))
            }
        }
        return (roles, unknown)
    }

    /// Checks role names alone and throws one error naming every unknown one.
    public static func checkedRoles(_ names: [String], field: String = "--roles") throws(TopologyError) -> [Role] {
        let (roles, unknown) = Self.roles(names, field: field)
        if !unknown.isEmpty { throw Self.unknownNames(unknown) }
        return roles
    }

    /// Turns an operator's selector into a `Selector` checked against `topology`.
    ///
    /// Every role, node id and location (`region`, `region/zone` or `region/zone/rack`) must exist; the error
    /// names each one that does not, and the nearest known name. A selector that selects no node is refused
    /// too (`.noTargets`), naming what it asked for. Nodes in maintenance count as selected here: the planner
    /// says so itself when they are all that is left.
    public static func checked(
        _ request: SelectorRequest, in topology: Topology, fields: SelectorRequest.Fields = .flags
    ) throws(TopologyError) -> Selector {
        let (roles, roleProblems) = Self.roles(request.roles, field: fields.roles)
        var unknown = roleProblems
        var nodes: [NodeID] = []
        if !request.nodes.isEmpty {
            let index = topology.indexByID()
            var ids: [String]?
            for name in request.nodes {
                if let id = NodeID(name), index[id] != nil {
                    if !nodes.contains(id) { nodes.append(id) }
                    continue
                }
                if ids == nil { ids = topology.nodes.map(\.id.rawValue) }
                unknown.append(UnknownName(kind: .node, name: name, field: fields.nodes, nearest: Nearest.name(to: name, in: ids!)))
            }
        }
        var locations: [String] = []
        if !request.locations.isEmpty {
            let known = topology.locationNames
            let set = Set(known)
            for name in request.locations {
                if set.contains(name) {
                    if !locations.contains(name) { locations.append(name) }
                } else {
                    unknown.append(UnknownName(kind: .location, name: name, field: fields.locations, nearest: Nearest.name(to: name, in: known)))
                }
            }
        }
        if !unknown.isEmpty { throw unknownNames(unknown) }
        let selector = Selector(roles: roles, locations: locations, nodes: nodes)
        guard !selector.selectedNodes(in: topology).isEmpty else {
            throw TopologyError(
                .noTargets, field: "selector", problem: "\(selector) selects no node of fleet \(topology.fleet)",
                fix: "nothing was done; choose roles, nodes and locations that overlap")
        }
        return selector
    }

    /// The nodes (indexes into `topology.nodes`) this selector selects, maintenance included. Names the
    /// topology does not know select nothing; `checked` refuses them before this is asked.
    public func selectedNodes(in topology: Topology) -> [Int] {
        let roleSet = RoleSet(roles)
        var named: Set<Int>?
        if !nodes.isEmpty {
            let index = topology.indexByID()
            named = Set(nodes.compactMap { index[$0] })
        }
        var racks: [Bool]?
        if !locations.isEmpty {
            var flags = [Bool](repeating: false, count: topology.racks.count)
            for r in topology.racks.indices {
                let path = topology.location(ofRack: r)
                if locations.contains(where: { path == $0 || path.hasPrefix($0 + "/") }) { flags[r] = true }
            }
            racks = flags
        }
        var selected: [Int] = []
        for (i, node) in topology.nodes.enumerated() {
            if !roleSet.isEmpty && node.roles.isDisjoint(with: roleSet) { continue }
            if let named, !named.contains(i) { continue }
            if let racks, !racks[Int(node.rack)] { continue }
            selected.append(i)
        }
        return selected
    }

    static func unknownNames(_ unknown: [UnknownName]) -> TopologyError {
        TopologyError(
            .badRequest, field: "", problem: unknown.map(\.description).joined(separator: "; "),
            fix: "nothing was done; names are exact and case-sensitive")
    }
}

extension Topology {
    /// Every location a selector may name: each region, `region/zone` and `region/zone/rack`, in file order.
    public var locationNames: [String] {
        var names: [String] = []
        for region in regions {
            names.append(region.name)
            for z in region.zones {
                names.append("\(region.name)/\(zones[z].name)")
                for r in zones[z].racks { names.append("\(region.name)/\(zones[z].name)/\(racks[r].name)") }
            }
        }
        return names
    }
}

/// The nearest name by edit distance (Levenshtein over Unicode scalars); ties go to the name that shares the
/// longest prefix with it (`b3` is nearer `b1` than `a3`), then to the one that sorts first.
public enum Nearest {
    public static func name(to name: String, in candidates: [String]) -> String? {
        let target = Array(name.unicodeScalars)
        var best: (distance: Int, prefix: Int, name: String)?
        for candidate in candidates {
            let scalars = Array(candidate.unicodeScalars)
            guard let d = distance(target, scalars, bound: best?.distance) else { continue }
            let prefix = zip(target, scalars).prefix { $0 == $1 }.count
            if let b = best, (d, -prefix, candidate) >= (b.distance, -b.prefix, b.name) { continue }
            best = (d, prefix, candidate)
        }
        return best?.name
    }

    /// Levenshtein distance between `a` and `b`, or nil once it must exceed `bound` (a candidate that cannot win).
    public static func distance(_ a: String, _ b: String) -> Int {
        distance(Array(a.unicodeScalars), Array(b.unicodeScalars), bound: nil)!
    }

    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar], bound: Int?) -> Int? {
        if let bound, abs(a.count - b.count) > bound { return nil }
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            var rowMin = current[0]
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                rowMin = Swift.min(rowMin, current[j])
            }
            if let bound, rowMin > bound { return nil }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
