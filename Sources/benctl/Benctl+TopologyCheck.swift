import ArgumentParser
import BenCore
import BenTopology

extension Benctl.TopologyCommand {
    /// `benctl topology check FILE`: a summary of a valid topology, or every problem and exit code 1.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a topology file: print a summary by role and location, or every problem (exit 1).")

        @OptionGroup var topologyFile: TopologyFileArgument
        @OptionGroup var output: OutputOptions

        var file: String { topologyFile.file }

        func run() throws {
            let reading = Topology.read(yaml: try TextFile.read(file), file: file)
            guard let topology = reading.topology else {
                try output.show(["valid": false, "errors": .array(reading.errors.map(Self.json))]) {
                    for error in reading.errors { FileHandleOutput.standardError("\(error)\n") }
                    let n = reading.errors.count
                    FileHandleOutput.standardError("\(file): \(n) problem\(n == 1 ? "" : "s")\n")
                }
                throw ExitCode(1)
            }
            let key = TopologyFiles.key(of: topology)
            try output.show(summaryJSON(topology, key: key)) { print(summary(topology, key: key), terminator: "") }
        }

        static func json(_ e: TopologyError) -> JSONValue {
            [
                "code": .string(e.code.rawValue), "file": .string(e.file), "line": .int(Int64(e.line)),
                "field": .string(e.field), "problem": .string(e.problem), "fix": .string(e.fix),
                "message": .string(e.description),
            ]
        }

        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }

        func roleCounts(_ topology: Topology, _ nodes: some Sequence<Int>) -> [Role: Int] {
            var counts: [Role: Int] = [:]
            for i in nodes { for role in topology.nodes[i].roles.roles { counts[role, default: 0] += 1 } }
            return counts
        }

        func rolesText(_ counts: [Role: Int]) -> String {
            Role.allCases.compactMap { role in counts[role].map { "\(role) \($0)" } }.joined(separator: ", ")
        }

        func summary(_ t: Topology, key: Key) -> String {
            var out = "\(file): valid — fleet \(t.fleet), \(plural(t.nodes.count, "node")) in \(plural(t.regions.count, "region")), \(plural(t.zones.count, "zone")), \(plural(t.racks.count, "rack"))\n"
            out += "roles: \(rolesText(roleCounts(t, t.nodes.indices)))\n"
            out += "by location:\n"
            let zoneWidth = t.zones.map { t.regions[$0.region].name.count + $0.name.count + 1 }.max() ?? 0
            for zone in t.zones {
                let nodes = zone.racks.lowerBound < zone.racks.upperBound
                    ? t.racks[zone.racks.lowerBound].nodes.lowerBound..<t.racks[zone.racks.upperBound - 1].nodes.upperBound : 0..<0
                let name = "\(t.regions[zone.region].name)/\(zone.name)"
                out += "  \(name.padding(toLength: zoneWidth))  \(plural(zone.racks.count, "rack")), \(plural(nodes.count, "node")) (\(rolesText(roleCounts(t, nodes))))\n"
            }
            let ledgerZone = t.zones.indices.contains(t.ledger.zone) ? "\(t.regions[t.ledger.region].name)/\(t.zones[t.ledger.zone].name)" : "?"
            out += "ledger: \(t.ledger.address) in \(ledgerZone), uplink \(t.ledgerUplink), up to \(t.ledgerMaxFanOut) children\n"
            out += "defaults: chunk \(ByteSize.format(t.chunkSize)), uplink \(t.defaults.uplink)/node, stripes \(t.stripes.map(String.init) ?? "chosen by the planner")\n"
            let preferred = t.nodes.filter { $0.duty == .preferred }.count
            let never = t.nodes.filter { $0.duty == .never }.count
            let maintenance = t.nodes.filter(\.maintenance).count
            out += "tuning: \(plural(preferred, "preferred relay")), \(never) never relay, \(maintenance) in maintenance\n"
            out += "topology key: \(key.hex)\n"
            return out
        }

        func summaryJSON(_ t: Topology, key: Key) -> JSONValue {
            var roles: [String: JSONValue] = [:]
            for (role, n) in roleCounts(t, t.nodes.indices) { roles[role.rawValue] = .int(Int64(n)) }
            let zones: [JSONValue] = t.zones.map { zone in
                let nodes = t.racks[zone.racks.lowerBound].nodes.lowerBound..<t.racks[zone.racks.upperBound - 1].nodes.upperBound
                var zoneRoles: [String: JSONValue] = [:]
                for (role, n) in roleCounts(t, nodes) { zoneRoles[role.rawValue] = .int(Int64(n)) }
                return [
                    "region": .string(t.regions[zone.region].name), "zone": .string(zone.name),
                    "racks": .int(Int64(zone.racks.count)), "nodes": .int(Int64(nodes.count)), "roles": .object(zoneRoles),
                ]
            }
            return [
                "valid": true, "file": .string(file), "fleet": .string(t.fleet.rawValue),
                "nodes": .int(Int64(t.nodes.count)), "regions": .int(Int64(t.regions.count)),
                "zones": .int(Int64(t.zones.count)), "racks": .int(Int64(t.racks.count)), "roles": .object(roles),
                "by_zone": .array(zones), "topology_key": .string(key.hex),
                "maintenance": .int(Int64(t.nodes.filter(\.maintenance).count)),
                "never_relay": .int(Int64(t.nodes.filter { $0.duty == .never }.count)),
                "preferred_relays": .int(Int64(t.nodes.filter { $0.duty == .preferred }.count)),
            ]
        }
    }
}

extension String {
    func padding(toLength width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}
