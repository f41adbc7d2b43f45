import BenCore
import BenYAML
import Yams

/// What reading a topology file gave: the topology when it is valid, and every problem found.
public struct TopologyReading: Sendable {
    /// Nil whenever `errors` is not empty.
    public var topology: Topology?
    /// Sorted by line.
    public var errors: [TopologyError]
}

extension Topology {
    /// Reads YAML text and validates it completely (DESIGN §7: errors name file, line and field, and say what
    /// to do). Never throws: every problem is in the result.
    ///
    /// - Parameters:
    ///   - file: the name errors give for the text (the path as the user typed it).
    ///   - planner: used to check that every required node can be reached under the constraints.
    public static func read(yaml: String, file: String, planner: Planner = Planner()) -> TopologyReading {
        let parsed = parse(yaml: yaml, file: file)
        var errors = parsed.errors
        if let topology = parsed.topology {
            errors += topology.validate(planner: planner, checkReachability: errors.isEmpty)
        }
        errors.sort { ($0.line, $0.field) < ($1.line, $1.field) }
        return TopologyReading(topology: errors.isEmpty ? parsed.topology : nil, errors: errors)
    }

    /// Reads and validates YAML, throwing the first problem (by line). Use `read(yaml:file:)` to get them all.
    public init(yaml: String, file: String = "topology.yaml") throws(TopologyError) {
        let reading = Self.read(yaml: yaml, file: file)
        if let first = reading.errors.first { throw first }
        self = reading.topology!
    }

    /// Only the reading step: YAML syntax, field names and types, value formats, and references from the
    /// tuning lists. Returns what could be read (possibly partial) and the problems; `read` adds `validate()`.
    public static func parse(yaml: String, file: String) -> (topology: Topology?, errors: [TopologyError]) {
        var reader = TopologyReader(file: file)
        let topology = reader.read(yaml)
        return (topology, reader.diagnostics.errors)
    }
}

/// Names of regions, zones and racks.
enum LocationName {
    static func isValid(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...63).contains(u.count), u[0].isASCIIAlphanumeric else { return false }
        return u.allSatisfy { $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    static let rule = "1-63 characters of letters, digits, '.', '-' or '_', starting with a letter or digit"
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}

/// Turns the YAML tree into a `Topology`, reporting every problem with its line and field.
struct TopologyReader {
    var diagnostics: Diagnostics

    static let topFields = ["format", "fleet", "ledger", "stripes", "defaults", "tuning", "regions"]
    static let ledgerFields = ["address", "region", "zone", "uplink", "max_fan_out"]
    static let defaultsFields = ["chunk_size", "uplink", "max_fan_out", "links"]
    static let linkFields = ["bandwidth", "latency"]
    static let fanOutFields = ["total"] + Tier.allCases.map(\.name)
    static let tuningFields = ["preferred_relays", "never_relay", "maintenance"]
    static let regionFields = ["name", "zones"]
    static let zoneFields = ["name", "racks"]
    static let rackFields = ["name", "uplink", "max_fan_out", "links", "nodes"]
    static let rackLinkFields = ["in_rack"]
    static let nodeFields = ["id", "roles", "address", "key", "uplink", "max_fan_out"]

    init(file: String) { diagnostics = Diagnostics(file: file) }

    /// The stages in the order their problems are reported: the root mapping, the header fields, `defaults`, the
    /// hierarchy of regions, zones, racks and nodes, then the ledger and the tuning lists, which refer to it.
    mutating func read(_ yaml: String) -> Topology? {
        guard let root = compose(yaml),
            let top = Fields(root, path: "", allowed: Self.topFields, what: "a topology", diagnostics: &diagnostics)
        else { return nil }
        var source = SourceMap()
        source.file = diagnostics.file
        readFormat(top)
        let fleet = readFleet(top)
        let stripes = readStripes(top, &source)
        let (chunkSize, defaults) = readDefaults(top, &source)
        var hierarchy = readHierarchy(top, defaults: defaults, &source)
        let ledger = readLedger(top, regions: hierarchy.regions, zones: hierarchy.zones, &source)
        readTuning(top, nodes: &hierarchy.nodes, &source)
        return Topology(
            fleet: fleet, ledger: ledger, chunkSize: chunkSize, stripes: stripes, defaults: defaults, regions: hierarchy.regions,
            zones: hierarchy.zones, racks: hierarchy.racks, nodes: hierarchy.nodes, source: source)
    }

    // MARK: Stages

    /// The root node, or nil (reported) for an empty file or a syntax error.
    mutating func compose(_ yaml: String) -> Yams.Node? {
        do {
            // The basic resolver leaves every scalar as text: this reader decides what each field means, and
            // no regular expression runs per scalar (which matters at 100 000 nodes).
            guard let node = try YAMLSyntaxError.compose(yaml, resolver: .basic) else {
                diagnostics.add(
                    .missingField, line: 0, field: "", "the file is empty",
                    fix: "write a topology (see topology/README.md)")
                return nil
            }
            return node
        } catch {
            report(error)
            return nil
        }
    }

    mutating func readFormat(_ top: Fields) {
        if let format = top.text("format", diagnostics: &diagnostics, example: Topology.format), format != Topology.format {
            diagnostics.add(
                .invalidValue, line: top.line(of: "format"), field: "format", "unknown format '\(format)'",
                fix: "write `format: \(Topology.format)` or leave it out")
        }
    }

    mutating func readFleet(_ top: Fields) -> FleetName {
        var fleet = FleetName("unnamed")!
        if let node = top.required("fleet", example: "my-fleet", diagnostics: &diagnostics),
            let text = scalar(node, field: "fleet", example: "my-fleet")
        {
            if let f = FleetName(text) {
                fleet = f
            } else {
                diagnostics.add(
                    .invalidValue, line: node.line, field: "fleet", "'\(text)' is not a fleet name",
                    fix: "use \(FleetName.rule)")
            }
        }
        return fleet
    }

    mutating func readStripes(_ top: Fields, _ source: inout SourceMap) -> Int? {
        guard let (k, line) = top.count("stripes", diagnostics: &diagnostics) else { return nil }
        source.fieldLines["stripes"] = line
        guard (1...Planner.maxStripes).contains(k) else {
            diagnostics.add(
                .invalidValue, line: line, field: "stripes", "\(k) stripe trees is outside 1…\(Planner.maxStripes)",
                fix: "use 1 for a plain tree, 2-8 to stripe, or leave it out to let the planner choose")
            return nil
        }
        return k
    }

    mutating func readDefaults(_ top: Fields, _ source: inout SourceMap) -> (chunkSize: Int64, defaults: Defaults) {
        var chunkSize = Defaults.standardChunkSize
        var defaults = Defaults()
        source.fieldLines["defaults"] = top.line(of: "defaults")
        guard let node = top.value("defaults"),
            let fields = Fields(node, path: "defaults", allowed: Self.defaultsFields, what: "defaults", diagnostics: &diagnostics)
        else { return (chunkSize, defaults) }
        if let text = fields.text("chunk_size", diagnostics: &diagnostics, example: "1MiB") {
            let line = fields.line(of: "chunk_size")
            if let size = ByteSize.parse(text), (4096...(64 << 20)).contains(size) {
                chunkSize = size
            } else {
                diagnostics.add(
                    .invalidValue, line: line, field: "defaults.chunk_size", "'\(text)' is not a chunk size in 4KiB…64MiB",
                    fix: "write a size such as 1MiB (the default) or 4MiB")
            }
        }
        if let uplink = bandwidth(fields, "uplink") { defaults.uplink = uplink }
        if let node = fields.value("max_fan_out"), let o = fanOutOverride(node, field: fields.field("max_fan_out")) {
            defaults.maxFanOut = o.applied(to: defaults.maxFanOut)
        }
        if let node = fields.value("links"),
            let links = Fields(node, path: "defaults.links", allowed: Tier.allCases.map(\.name), what: "links per tier", diagnostics: &diagnostics)
        {
            for tier in Tier.allCases {
                guard let v = links.value(tier.name) else { continue }
                if let link = self.link(v, field: links.field(tier.name), base: defaults.links[tier]) {
                    defaults.links[tier] = link
                }
            }
        }
        return (chunkSize, defaults)
    }

    /// What the hierarchy stage read: the flat arrays a `Topology` keeps, and each node's field lines.
    struct Hierarchy {
        var regions: [Region] = []
        var zones: [Zone] = []
        var racks: [Rack] = []
        var nodes: [TopologyNode] = []
        var idLines: [Int32] = []
        var addressLines: [Int32] = []
        var keyLines: [Int32] = []
    }

    /// The hierarchy: regions, their zones, their racks and the racks' nodes.
    mutating func readHierarchy(_ top: Fields, defaults: Defaults, _ source: inout SourceMap) -> Hierarchy {
        var h = Hierarchy()
        source.fieldLines["regions"] = top.line(of: "regions")
        if let regionNodes = listField(top, "regions", what: "regions", example: "[{name: eu-1, zones: [...]}]") {
            if regionNodes.isEmpty {
                diagnostics.add(
                    .invalidValue, line: top.line(of: "regions"), field: "regions", "a topology needs at least one region",
                    fix: "add a region with its zones, racks and nodes")
            }
            var regionNames: [String: Int] = [:]
            for (gi, regionNode) in regionNodes.enumerated() {
                let regionPath = "regions[\(gi)]"
                guard let rf = Fields(regionNode, path: regionPath, allowed: Self.regionFields, what: "a region", diagnostics: &diagnostics) else { continue }
                guard let regionName = name(rf, kind: "region", seen: &regionNames, scope: "the topology") else { continue }
                let zoneStart = h.zones.count
                readZones(rf, region: regionName, defaults: defaults, into: &h, &source)
                h.regions.append(Region(name: regionName, zones: zoneStart..<h.zones.count))
            }
        }
        source.nodeLines = h.idLines
        source.addressLines = h.addressLines
        source.keyLines = h.keyLines
        return h
    }

    /// The zones of the region being read (`h.regions.count`).
    mutating func readZones(_ rf: Fields, region regionName: String, defaults: Defaults, into h: inout Hierarchy, _ source: inout SourceMap) {
        let regionPath2 = "regions[\(regionName)]"
        var zoneNames: [String: Int] = [:]
        for (zi, zoneNode) in (listField(rf, "zones", what: "zones", example: "[{name: a, racks: [...]}]", path: regionPath2, nonEmpty: "a region needs at least one zone") ?? []).enumerated() {
            let zonePath = "\(regionPath2).zones[\(zi)]"
            guard let zf = Fields(zoneNode, path: zonePath, allowed: Self.zoneFields, what: "a zone", diagnostics: &diagnostics) else { continue }
            guard let zoneName = name(zf, kind: "zone", seen: &zoneNames, scope: "region \(regionName)") else { continue }
            let zonePath2 = "\(regionPath2).zones[\(zoneName)]"
            let rackStart = h.racks.count
            var rackNames: [String: Int] = [:]
            for (ri, rackNode) in (listField(zf, "racks", what: "racks", example: "[{name: r01, nodes: [...]}]", path: zonePath2, nonEmpty: "a zone needs at least one rack") ?? []).enumerated() {
                let rackPath = "\(zonePath2).racks[\(ri)]"
                guard let kf = Fields(rackNode, path: rackPath, allowed: Self.rackFields, what: "a rack", diagnostics: &diagnostics) else { continue }
                guard let rackName = name(kf, kind: "rack", seen: &rackNames, scope: "zone \(regionName)/\(zoneName)") else { continue }
                let kf2 = kf.renamed(to: "\(zonePath2).racks[\(rackName)]")
                readRack(kf2, name: rackName, defaults: defaults, into: &h, &source)
            }
            h.zones.append(Zone(name: zoneName, region: h.regions.count, racks: rackStart..<h.racks.count))
        }
    }

    /// One rack of the zone being read (`h.zones.count`) and its nodes.
    mutating func readRack(_ kf2: Fields, name rackName: String, defaults: Defaults, into h: inout Hierarchy, _ source: inout SourceMap) {
        let (g, z, r) = (h.regions.count, h.zones.count, h.racks.count)
        var rack = Rack(name: rackName, region: g, zone: z, nodes: h.nodes.count..<h.nodes.count)
        rack.uplink = bandwidth(kf2, "uplink")
        if let v = kf2.value("max_fan_out") { rack.maxFanOut = fanOutOverride(v, field: kf2.field("max_fan_out")) }
        if let v = kf2.value("links"),
            let lf = Fields(v, path: kf2.field("links"), allowed: Self.rackLinkFields, what: "the rack's links", diagnostics: &diagnostics),
            let inRack = lf.value("in_rack")
        {
            rack.inRackLink = link(inRack, field: lf.field("in_rack"), base: defaults.links.inRack)
        }
        let nodeStart = h.nodes.count
        for (ni, nodeEntry) in (listField(kf2, "nodes", what: "nodes", example: "[{id: n1, roles: [proxy], address: 10.0.0.1:7401, key: …}]", path: kf2.path, nonEmpty: "a rack needs at least one node") ?? []).enumerated() {
            if let node = readNode(nodeEntry, path: "\(kf2.path).nodes[\(ni)]", region: g, zone: z, rack: r) {
                if nodeUnread.address { source.unreadAddresses.insert(h.nodes.count) }
                if nodeUnread.key { source.unreadKeys.insert(h.nodes.count) }
                h.nodes.append(node)
                h.idLines.append(Int32(clamping: nodeLines.id))
                h.addressLines.append(Int32(clamping: nodeLines.address))
                h.keyLines.append(Int32(clamping: nodeLines.key))
            }
        }
        rack.nodes = nodeStart..<h.nodes.count
        h.racks.append(rack)
    }

    /// The ledger, once regions and zones are known.
    mutating func readLedger(_ top: Fields, regions: [Region], zones: [Zone], _ source: inout SourceMap) -> LedgerSpec {
        var ledger = LedgerSpec(address: HostPort(host: "127.0.0.1", port: 7400)!)
        guard let node = top.required("ledger", example: "{address: 10.0.0.2:7400}", diagnostics: &diagnostics),
            let lf = Fields(node, path: "ledger", allowed: Self.ledgerFields, what: "the ledger", diagnostics: &diagnostics)
        else { return ledger }
        source.fieldLines["ledger"] = lf.line
        if let a = lf.required("address", example: "10.0.0.2:7400", diagnostics: &diagnostics),
            let text = scalar(a, field: "ledger.address", example: "10.0.0.2:7400")
        {
            source.fieldLines["ledger.address"] = a.line
            if let hp = HostPort(text) { ledger.address = hp } else { badAddress(text, line: a.line, field: "ledger.address") }
        }
        ledger.uplink = bandwidth(lf, "uplink")
        if let (n, line) = lf.count("max_fan_out", diagnostics: &diagnostics) {
            source.fieldLines["ledger.max_fan_out"] = line
            if n >= 1 { ledger.maxFanOut = n } else { badFanOut(n, line: line, field: "ledger.max_fan_out") }
        }
        if let regionName = lf.text("region", diagnostics: &diagnostics, example: "eu-1") {
            if let g = regions.firstIndex(where: { $0.name == regionName }) {
                ledger.region = g
                ledger.zone = regions[g].zones.lowerBound
            } else {
                diagnostics.add(
                    .invalidValue, line: lf.line(of: "region"), field: "ledger.region", "no region '\(regionName)' in this topology",
                    fix: "name one of the regions: \(regions.map(\.name).joined(separator: ", "))")
            }
        }
        if let zoneName = lf.text("zone", diagnostics: &diagnostics, example: "a") {
            let candidates = regions.indices.contains(ledger.region) ? regions[ledger.region].zones : 0..<0
            if let z = candidates.first(where: { zones[$0].name == zoneName }) {
                ledger.zone = z
            } else {
                diagnostics.add(
                    .invalidValue, line: lf.line(of: "zone"), field: "ledger.zone",
                    "no zone '\(zoneName)' in the ledger's region",
                    fix: "name one of: \(candidates.map { zones[$0].name }.joined(separator: ", "))")
            }
        }
        return ledger
    }

    /// Tuning knobs refer to nodes by id.
    mutating func readTuning(_ top: Fields, nodes: inout [TopologyNode], _ source: inout SourceMap) {
        guard let node = top.value("tuning"),
            let tf = Fields(node, path: "tuning", allowed: Self.tuningFields, what: "tuning knobs", diagnostics: &diagnostics)
        else { return }
        var index: [NodeID: Int] = [:]
        index.reserveCapacity(nodes.count)
        for (i, n) in nodes.enumerated() where index[n.id] == nil { index[n.id] = i }
        var listed: [String: [NodeID: Int]] = [:]
        for list in Self.tuningFields {
            guard let entries = tf.list(list, diagnostics: &diagnostics, what: "node ids") else { continue }
            source.fieldLines["tuning.\(list)"] = tf.line(of: list)
            for (j, entry) in entries.enumerated() {
                let field = "tuning.\(list)[\(j)]"
                guard let text = scalar(entry, field: field, example: "node-id") else { continue }
                guard let id = NodeID(text), let i = index[id] else {
                    let hint = nodes.count <= 5000 ? suggestion(for: text, among: nodes.lazy.map(\.id.rawValue)).map { "did you mean '\($0)'? " } ?? "" : ""
                    diagnostics.add(
                        .unknownNode, line: entry.line, field: field, "no node '\(text)' in this topology",
                        fix: "\(hint)list only ids of nodes defined under regions")
                    continue
                }
                if let first = listed[list]?[id] {
                    diagnostics.add(
                        .invalidValue, line: entry.line, field: field, "node '\(text)' is listed twice (first at line \(first))",
                        fix: "remove one")
                    continue
                }
                let opposite = list == "never_relay" ? "preferred_relays" : list == "preferred_relays" ? "never_relay" : nil
                if let opposite, let other = listed[opposite]?[id] {
                    diagnostics.add(
                        .conflict, line: entry.line, field: field,
                        "node '\(text)' is also in tuning.\(opposite) (line \(other)): it cannot both be preferred and never relay",
                        fix: "keep it in one of the two lists")
                    continue
                }
                listed[list, default: [:]][id] = entry.line
                switch list {
                case "preferred_relays": nodes[i].duty = .preferred
                case "never_relay": nodes[i].duty = .never
                default: nodes[i].maintenance = true
                }
            }
        }
    }

    // MARK: Pieces

    /// The lines of the last node read: its id, address and key.
    var nodeLines: (id: Int, address: Int, key: Int) = (0, 0, 0)
    /// Whether the last node read had its address or its key unreadable (they are placeholders then).
    var nodeUnread: (address: Bool, key: Bool) = (false, false)

    mutating func readNode(_ entry: Yams.Node, path: String, region: Int, zone: Int, rack: Int) -> TopologyNode? {
        nodeLines = (entry.line, entry.line, entry.line)
        nodeUnread = (false, false)
        // Name the node by its id in every field path, when it has a usable one.
        var path = path
        if case .mapping(let m) = entry, let text = m["id"]?.scalarText, NodeID(text) != nil {
            path = path[..<path.lastIndex(of: "[")!] + "[\(text)]"
        }
        guard let f = Fields(entry, path: path, allowed: Self.nodeFields, what: "a node", diagnostics: &diagnostics) else {
            return nil
        }
        // Each field is read in turn; a bad one is reported and leaves a placeholder.
        let (id, idOK) = readNodeID(f)
        let (roles, rolesOK) = readRoles(f)
        let (address, addressOK) = readNodeAddress(f)
        let (key, keyOK) = readNodeKey(f)
        let uplink = bandwidth(f, "uplink")
        var fanOut: FanOutOverride?
        if let v = f.value("max_fan_out") { fanOut = fanOutOverride(v, field: f.field("max_fan_out")) }
        // A node with a good id stays, damaged, so that references to it resolve and its problems do not hide
        // behind "unknown node" errors; its placeholder values are never compared with other nodes'.
        guard id != "invalid" || (idOK && rolesOK && addressOK && keyOK) else { return nil }
        return TopologyNode(
            id: id, roles: roles, address: address, key: key, region: Int32(region), zone: Int32(zone), rack: Int32(rack),
            uplink: uplink, maxFanOut: fanOut)
    }

    /// A node's `id`; "invalid" when unreadable.
    mutating func readNodeID(_ f: Fields) -> (NodeID, ok: Bool) {
        guard let v = f.required("id", example: "proxy-17", diagnostics: &diagnostics), let text = scalar(v, field: f.field("id"), example: "proxy-17")
        else { return ("invalid", false) }
        nodeLines.id = v.line
        guard let n = NodeID(text) else {
            diagnostics.add(.invalidValue, line: v.line, field: f.field("id"), "'\(text)' is not a node id", fix: "use \(NodeID.rule)")
            return ("invalid", false)
        }
        return (n, true)
    }

    /// A node's `roles` (one, or a list): the known ones among them.
    mutating func readRoles(_ f: Fields) -> (RoleSet, ok: Bool) {
        var roles = RoleSet()
        guard let v = f.required("roles", example: "[proxy]", diagnostics: &diagnostics) else { return (roles, false) }
        var ok = true
        let items: [Yams.Node]
        if case .sequence(let s) = v { items = Array(s) } else { items = [v] }
        if items.isEmpty {
            diagnostics.add(
                .invalidValue, line: v.line, field: f.field("roles"), "a node needs at least one role",
                fix: "list one or more of \(Role.spelling)")
            ok = false
        }
        for (j, item) in items.enumerated() {
            let field = case1(v) ? "\(f.field("roles"))[\(j)]" : f.field("roles")
            guard let text = scalar(item, field: field, example: "proxy") else { ok = false; continue }
            if let role = Role(rawValue: text) {
                roles.insert(RoleSet(role))
            } else {
                let hint = suggestion(for: text, among: Role.allCases.map(\.rawValue)).map { "did you mean '\($0)'? " } ?? ""
                diagnostics.add(.unknownRole, line: item.line, field: field, "unknown role '\(text)'", fix: "\(hint)roles are \(Role.spelling)")
                ok = false
            }
        }
        return (roles, ok)
    }

    /// A node's `address`; a placeholder, marked unread, when it cannot be read.
    mutating func readNodeAddress(_ f: Fields) -> (HostPort, ok: Bool) {
        let placeholder = HostPort(host: "invalid", port: 1)!
        nodeUnread.address = true
        guard let v = f.required("address", example: "10.0.1.17:7401", diagnostics: &diagnostics),
            let text = scalar(v, field: f.field("address"), example: "10.0.1.17:7401")
        else { return (placeholder, false) }
        nodeLines.address = v.line
        guard let a = HostPort(text) else {
            badAddress(text, line: v.line, field: f.field("address"))
            return (placeholder, false)
        }
        nodeUnread.address = false
        return (a, true)
    }

    /// A node's `key`; a placeholder, marked unread, when it cannot be read.
    mutating func readNodeKey(_ f: Fields) -> (NodeKey, ok: Bool) {
        let placeholder = NodeKey(words: 0, 0, 0, 0)
        nodeUnread.key = true
        guard let v = f.required("key", example: "<64 hex digits from benctl keygen>", diagnostics: &diagnostics),
            let text = scalar(v, field: f.field("key"), example: "<64 hex digits>")
        else { return (placeholder, false) }
        nodeLines.key = v.line
        guard let k = NodeKey(hex: text) else {
            let found = text.utf8.count == 64 ? "it has a character that is not a hex digit" : "found \(text.utf8.count) characters"
            diagnostics.add(
                .badKey, line: v.line, field: f.field("key"),
                "not an Ed25519 public key: expected 64 hex digits, \(found)",
                fix: "paste the node's public key (the .pub file `benctl keygen` writes)")
            return (placeholder, false)
        }
        nodeUnread.key = false
        return (k, true)
    }

    private func case1(_ v: Yams.Node) -> Bool {
        if case .sequence = v { return true }
        return false
    }

    /// The `name` field of a region, zone or rack, checked for form and uniqueness in its scope.
    mutating func name(_ f: Fields, kind: String, seen: inout [String: Int], scope: String) -> String? {
        guard let v = f.required("name", example: kind == "rack" ? "r01" : "eu-1", diagnostics: &diagnostics),
            let text = scalar(v, field: f.field("name"), example: "eu-1")
        else { return nil }
        guard LocationName.isValid(text) else {
            diagnostics.add(.invalidValue, line: v.line, field: f.field("name"), "'\(text)' is not a \(kind) name", fix: "use \(LocationName.rule)")
            return nil
        }
        if let first = seen[text] {
            diagnostics.add(
                .duplicateName, line: v.line, field: f.field("name"), "\(kind) '\(text)' is already defined in \(scope) at line \(first)",
                fix: "give each \(kind) in \(scope) its own name")
            return nil
        }
        seen[text] = v.line
        return text
    }

    /// A list field that must be present; reports an empty list with `nonEmpty` when given.
    mutating func listField(
        _ f: Fields, _ name: String, what: String, example: String, path: String? = nil, nonEmpty: String? = nil
    ) -> [Yams.Node]? {
        guard f.required(name, example: example, diagnostics: &diagnostics) != nil else { return nil }
        guard let list = f.list(name, diagnostics: &diagnostics, what: what) else { return nil }
        if list.isEmpty, let nonEmpty {
            diagnostics.add(.invalidValue, line: f.line(of: name), field: f.field(name), nonEmpty, fix: "add \(what) or remove the entry")
        }
        return list
    }

    mutating func scalar(_ node: Yams.Node, field: String, example: String) -> String? {
        if let s = node.scalarText { return s }
        diagnostics.add(
            .wrongType, line: node.line, field: field, "expected a single value, found \(node.kind.name)",
            fix: "write it as `\(field.split(separator: ".").last.map(String.init) ?? field): \(example)`")
        return nil
    }

    mutating func bandwidth(_ f: Fields, _ name: String) -> Bandwidth? {
        guard let text = f.text(name, diagnostics: &diagnostics, example: "10Gbit") else { return nil }
        if let b = Bandwidth(parsing: text) { return b }
        diagnostics.add(.invalidValue, line: f.line(of: name), field: f.field(name), "'\(text)' is not a bandwidth", fix: "write \(Bandwidth.rule)")
        return nil
    }

    mutating func link(_ node: Yams.Node, field: String, base: Link) -> Link? {
        guard let f = Fields(node, path: field, allowed: Self.linkFields, what: "a link", diagnostics: &diagnostics) else { return nil }
        var link = base
        if let b = bandwidth(f, "bandwidth") { link.bandwidth = b }
        if let text = f.text("latency", diagnostics: &diagnostics, example: "50us") {
            if let l = Latency(parsing: text) {
                link.latency = l
            } else {
                diagnostics.add(.invalidValue, line: f.line(of: "latency"), field: f.field("latency"), "'\(text)' is not a latency", fix: "write \(Latency.rule)")
            }
        }
        return link
    }

    /// `max_fan_out: 4` (a total) or `max_fan_out: {total: 8, cross_region: 1}`.
    mutating func fanOutOverride(_ node: Yams.Node, field: String) -> FanOutOverride? {
        if let text = node.scalarText {
            guard let n = Int(text) else {
                diagnostics.add(
                    .wrongType, line: node.line, field: field, "expected a whole number or a mapping of tiers, found '\(text)'",
                    fix: "write `max_fan_out: 4` or `max_fan_out: {total: 8, cross_region: 1}`")
                return nil
            }
            guard n >= 1 else { badFanOut(n, line: node.line, field: field); return nil }
            return FanOutOverride(total: n)
        }
        guard let f = Fields(node, path: field, allowed: Self.fanOutFields, what: "fan-out limits", diagnostics: &diagnostics) else { return nil }
        var o = FanOutOverride()
        var ok = true
        func read(_ name: String, into set: (inout FanOutOverride, Int) -> Void, _ me: inout TopologyReader) {
            guard let (n, line) = f.count(name, diagnostics: &me.diagnostics) else { return }
            if n >= 1 { set(&o, n) } else { me.badFanOut(n, line: line, field: f.field(name)); ok = false }
        }
        read("total", into: { $0.total = $1 }, &self)
        for tier in Tier.allCases { read(tier.name, into: { $0.perTier[tier] = $1 }, &self) }
        return ok ? o : nil
    }

    mutating func badFanOut(_ n: Int, line: Int, field: String) {
        diagnostics.add(
            .badFanOut, line: line, field: field, "a fan-out of \(n) is below 1",
            fix: "use 1 or more (to keep a node a leaf, list it in tuning.never_relay)")
    }

    mutating func badAddress(_ text: String, line: Int, field: String) {
        diagnostics.add(
            .badAddress, line: line, field: field, "'\(text)' is not host:port",
            fix: "write the peer-link address as host:port, such as 10.0.1.17:7401 or [fd00::7]:7401 (port 1-65535)")
    }

    mutating func report(_ error: YAMLSyntaxError) {
        switch error.problem {
        case .syntax(let context, let problem):
            let what = [context, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            diagnostics.add(
                .syntax, line: error.line, field: "", "not valid YAML: \(what)",
                fix: "check the indentation, colons and quotes at this line")
        case .duplicateKeys(let duplicates):
            let names = duplicates.joined(separator: ", ")
            diagnostics.add(
                .syntax, line: error.line, field: "", "a mapping writes \(names) more than once",
                fix: "keep one of each field")
        case .unreadable(let problem):
            diagnostics.add(.syntax, line: 0, field: "", "cannot read the text: \(problem)", fix: "save the file as UTF-8")
        case .overBudget(let exceeded):
            diagnostics.add(.syntax, line: error.line, field: "", exceeded.problem, fix: exceeded.fix)
        case .other(let description):
            diagnostics.add(.syntax, line: 0, field: "", "not valid YAML: \(description)", fix: "check the file's syntax")
        }
    }
}
