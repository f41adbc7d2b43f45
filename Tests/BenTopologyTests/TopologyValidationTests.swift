import BenCore
import BenTestKit
import BenTopology
import Foundation
import Testing

/// Every kind of mistake a topology file can hold is reported with its file, line and field, and says what to do.
@Suite struct TopologyValidationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var yaml: String
        var code: TopologyError.Code
        var line: Int
        var field: String
        /// Words the fix must contain.
        var fixMentions: String = ""
        var testDescription: String { name }
    }

    static let nodeA1 = "regions[eu].zones[a].racks[r1].nodes[a1]"
    static let nodeA3 = "regions[eu].zones[a].racks[r1].nodes[a3]"
    static let nodeB1 = "regions[eu].zones[b].racks[r1].nodes[b1]"
    static let nodeB2 = "regions[eu].zones[b].racks[r1].nodes[b2]"
    static let k = Fixtures.keys

    static let cases: [Case] = [
        Case(
            name: "duplicate id", yaml: Fixtures.base(replacing: 20, with: "              - {id: a1, roles: [proxy], address: 10.0.1.2:7401, key: \(k[1])}"),
            code: .duplicateID, line: 20, field: nodeA1 + ".id", fixMentions: "own id"),
        Case(
            name: "duplicate address", yaml: Fixtures.base(replacing: 30, with: "              - {id: b2, roles: [detector], address: 10.0.1.1:7401, key: \(k[4])}"),
            code: .duplicateAddress, line: 30, field: nodeB2 + ".address", fixMentions: "host:port"),
        Case(
            name: "ledger shares a node's address", yaml: Fixtures.base(replacing: 3, with: "  address: 10.0.1.2:7401"),
            code: .duplicateAddress, line: 3, field: "ledger.address"),
        Case(
            name: "duplicate key", yaml: Fixtures.base(replacing: 29, with: "                key: \(k[0])"),
            code: .duplicateKey, line: 29, field: nodeB1 + ".key", fixMentions: "benctl keygen"),
        Case(
            name: "unknown role", yaml: Fixtures.base(replacing: 21, with: "              - {id: a3, roles: [detector, proxi], address: 10.0.1.3:7401, key: \(k[2])}"),
            code: .unknownRole, line: 21, field: nodeA3 + ".roles[1]", fixMentions: "did you mean 'proxy'"),
        Case(
            name: "address without port", yaml: Fixtures.base(replacing: 28, with: "                address: 10.0.2.1"),
            code: .badAddress, line: 28, field: nodeB1 + ".address", fixMentions: "host:port"),
        Case(
            name: "port out of range", yaml: Fixtures.base(replacing: 28, with: "                address: 10.0.2.1:70000"),
            code: .badAddress, line: 28, field: nodeB1 + ".address"),
        Case(
            name: "key too short", yaml: Fixtures.base(replacing: 29, with: "                key: abc123"),
            code: .badKey, line: 29, field: nodeB1 + ".key", fixMentions: ".pub"),
        Case(
            name: "key not hex", yaml: Fixtures.base(replacing: 29, with: "                key: \(String(repeating: "zz", count: 32))"),
            code: .badKey, line: 29, field: nodeB1 + ".key"),
        Case(
            name: "default fan-out below 1", yaml: Fixtures.base(replacing: 7, with: "  max_fan_out: {total: 0, cross_region: 1}"),
            code: .badFanOut, line: 7, field: "defaults.max_fan_out.total", fixMentions: "never_relay"),
        Case(
            name: "node fan-out below 1", yaml: Fixtures.base(replacing: 19, with: "              - {id: a1, roles: [spine], address: 10.0.1.1:7401, key: \(k[0]), max_fan_out: 0}"),
            code: .badFanOut, line: 19, field: nodeA1 + ".max_fan_out"),
        Case(
            name: "ledger fan-out below 1", yaml: Fixtures.base(replacing: 4, with: "  max_fan_out: 0"),
            code: .badFanOut, line: 4, field: "ledger.max_fan_out"),
        Case(
            name: "tuning names an unknown node", yaml: Fixtures.base(replacing: 10, with: "  never_relay: [b3]"),
            code: .unknownNode, line: 10, field: "tuning.never_relay[0]", fixMentions: "did you mean"),
        Case(
            name: "preferred and never relay", yaml: Fixtures.base(replacing: 10, with: "  never_relay: [a1]"),
            code: .conflict, line: 10, field: "tuning.never_relay[0]", fixMentions: "one of the two lists"),
        Case(
            name: "misspelt field", yaml: Fixtures.base(replacing: 28, with: "                adress: 10.0.2.1:7401"),
            code: .unknownField, line: 28, field: nodeB1 + ".adress", fixMentions: "did you mean 'address'"),
        Case(
            name: "missing roles", yaml: Fixtures.base(replacing: 27, with: nil),
            code: .missingField, line: 26, field: nodeB1 + ".roles", fixMentions: "roles:"),
        Case(
            name: "no roles", yaml: Fixtures.base(replacing: 27, with: "                roles: []"),
            code: .invalidValue, line: 27, field: nodeB1 + ".roles", fixMentions: "spine, proxy"),
        Case(
            name: "bandwidth without unit", yaml: Fixtures.base(replacing: 6, with: "  uplink: 10"),
            code: .invalidValue, line: 6, field: "defaults.uplink", fixMentions: "10Gbit"),
        Case(
            name: "fleet name", yaml: Fixtures.base(replacing: 1, with: "fleet: Test Fleet"),
            code: .invalidValue, line: 1, field: "fleet", fixMentions: "a-z"),
        Case(
            name: "two zones with one name", yaml: Fixtures.base(replacing: 22, with: "      - name: a"),
            code: .duplicateName, line: 22, field: "regions[eu].zones[1].name", fixMentions: "own name"),
        Case(
            name: "fan-out is neither a number nor a mapping", yaml: Fixtures.base(replacing: 7, with: "  max_fan_out: [1, 2]"),
            code: .wrongType, line: 7, field: "defaults.max_fan_out", fixMentions: "total"),
        Case(
            name: "ledger in an unknown region", yaml: Fixtures.base(inserting: "  region: us", before: 5),
            code: .invalidValue, line: 5, field: "ledger.region", fixMentions: "eu"),
        Case(
            name: "more stripes than the ledger may feed", yaml: Fixtures.base(inserting: "stripes: 6", before: 5),
            code: .conflict, line: 4, field: "ledger.max_fan_out", fixMentions: "at least 6"),
        Case(
            name: "a node nobody can reach",
            yaml: Fixtures.base(replacing: 9, with: "  preferred_relays: []").replacingOccurrences(
                of: "never_relay: [b2]", with: "never_relay: [a1, a2, a3, b1, b2]"),
            code: .unreachable, line: 21, field: nodeA3, fixMentions: "never_relay, line 10"),
        Case(
            name: "not YAML", yaml: Fixtures.base(replacing: 21, with: "              - {id: a3, roles: [detector, proxy, address: 10.0.1.3:7401"),
            code: .syntax, line: 22, field: "", fixMentions: "indentation"),
    ]

    @Test(arguments: cases)
    func problemIsReportedWithFileLineAndField(_ c: Case) {
        let reading = Topology.read(yaml: c.yaml, file: "fleet.yaml")
        #expect(reading.topology == nil)
        let match = reading.errors.first { $0.code == c.code && $0.field == c.field }
        guard let error = match else {
            Issue.record("expected \(c.code) at \(c.field); got:\n\(reading.errors.map(\.description).joined(separator: "\n"))")
            return
        }
        #expect(error.line == c.line, "\(error)")
        #expect(error.file == "fleet.yaml")
        let location = c.line > 0 ? "fleet.yaml:\(c.line): " : "fleet.yaml: "
        #expect(error.description.hasPrefix(location + (c.field.isEmpty ? "" : c.field + ": ")), "\(error)")
        if !c.fixMentions.isEmpty { #expect(error.description.contains(c.fixMentions), "\(error)") }
        #expect(!error.fix.isEmpty)
    }

    @Test(arguments: [
        ("an alias bomb", "format: ben/topology/v1\nfleet: x\n" + HostileYAML.billionLaughs(under: "regions"), "alias bomb?"),
        ("an alias key", HostileYAML.keyBomb, "a mapping key here is a list, a mapping or an alias"),
        ("deep nesting", "format: ben/topology/v1\nregions: " + HostileYAML.nested(100), "nests deeper than 64 levels"),
    ])
    func aHostileFileIsOneProblem(what: String, yaml: String, mentions: String) {
        let parsed = Topology.parse(yaml: yaml, file: "bomb.yaml")
        #expect(parsed.topology == nil)
        #expect(parsed.errors.count == 1, "\(what): \(parsed.errors)")
        #expect(parsed.errors.first?.code == .syntax)
        #expect("\(parsed.errors.first.map { "\($0)" } ?? "")".contains(mentions), "\(what)")
    }

    @Test func theBaseFixtureIsValid() throws {
        let reading = Topology.read(yaml: Fixtures.base, file: "fleet.yaml")
        #expect(reading.errors.isEmpty, "\(reading.errors)")
        let t = try #require(reading.topology)
        #expect(t.nodes.map(\.id.rawValue) == ["a1", "a2", "a3", "b1", "b2"])
        #expect(t.nodes[0].duty == .preferred)
        #expect(t.nodes[4].duty == .never)
        #expect(t.nodes[2].roles == RoleSet([.detector, .proxy]))
        #expect(t.maxFanOut(of: 0).total == 8)
        #expect(t.maxFanOut(of: 0)[.crossRegion] == 1)
        #expect(t.ledgerMaxFanOut == 4)
        #expect(t.source.line(ofNode: 3) == 26)
    }

    @Test func everyProblemIsListedAtOnceInLineOrder() {
        var yaml = Fixtures.base(replacing: 28, with: "                address: nowhere")
        yaml = yaml.replacingOccurrences(of: "roles: [proxy]", with: "roles: [proxi]")
        yaml = yaml.replacingOccurrences(of: "never_relay: [b2]", with: "never_relay: [zz9]")
        let errors = Topology.read(yaml: yaml, file: "fleet.yaml").errors
        #expect(errors.map(\.code) == [.unknownNode, .unknownRole, .badAddress])
        #expect(errors.map(\.line) == [10, 20, 28])
    }

    @Test func overridesInheritNodeThenRackThenDefaults() throws {
        let yaml = Fixtures.base
            .replacingOccurrences(
                of: "          - name: r1\n            nodes:\n              - {id: a1",
                with: "          - name: r1\n            uplink: 25Gbit\n            max_fan_out: {cross_rack: 2}\n            links: {in_rack: {latency: 5us}}\n            nodes:\n              - {id: a1")
            .replacingOccurrences(of: "key: \(Fixtures.keys[1])}", with: "key: \(Fixtures.keys[1]), uplink: 1Gbit, max_fan_out: 3}")
        let t = try Topology(yaml: yaml)
        #expect(t.uplink(of: 0) == Bandwidth(parsing: "25Gbit"))
        #expect(t.uplink(of: 1) == Bandwidth(parsing: "1Gbit"))
        #expect(t.uplink(of: 3) == Bandwidth(parsing: "10Gbit"))
        #expect(t.maxFanOut(of: 0)[.crossRack] == 2)
        #expect(t.maxFanOut(of: 1).total == 3 && t.maxFanOut(of: 1)[.crossRack] == 2)
        #expect(t.maxFanOut(of: 3)[.crossRack] == FanOut()[.crossRack])
        #expect(t.link(.inRack, inRack: 0).latency == Latency(parsing: "5us"))
        #expect(t.link(.inRack, inRack: 0).bandwidth == Defaults.standardLinks.inRack.bandwidth)
        #expect(t.link(.inRack, inRack: 1) == Defaults.standardLinks.inRack)
    }

    @Test func theRepositoryTopologiesAreValid() throws {
        for (path, nodes) in [("topology/local.yaml", 18), ("topology/example-dc.yaml", 360)] {
            let text = try String(contentsOfFile: Fixtures.repositoryFile(path), encoding: .utf8)
            let reading = Topology.read(yaml: text, file: path)
            #expect(reading.errors.isEmpty, "\(reading.errors)")
            let t = try #require(reading.topology)
            #expect(t.nodes.count == nodes)
            #expect(Set(t.nodes.map(\.address)).count == nodes)
        }
    }

    @Test func theFullExampleInTheFormatDocumentationIsValid() throws {
        let readme = try String(contentsOfFile: Fixtures.repositoryFile("topology/README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "```yaml\n"))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        let reading = Topology.read(yaml: String(readme[start.upperBound..<end.lowerBound]), file: "README.md")
        #expect(reading.errors.isEmpty, "\(reading.errors)")
        let t = try #require(reading.topology)
        #expect(t.stripes == 3 && t.ledgerMaxFanOut == 8 && t.racks[0].uplink != nil && t.racks[0].inRackLink != nil)
        #expect(t.nodes[0].uplink == Bandwidth(parsing: "1Gbit") && t.nodes[0].maxFanOut?.total == 4)
        #expect(t.nodes.contains { $0.maintenance } && t.nodes.contains { $0.duty == .never } && t.nodes.contains { $0.duty == .preferred })
    }

    @Test func theLocalFleetHasRealKeysAndDistinctPorts() throws {
        let text = try String(contentsOfFile: Fixtures.repositoryFile("topology/local.yaml"), encoding: .utf8)
        let t = try Topology(yaml: text, file: "topology/local.yaml")
        #expect(t.nodes.count >= 16)
        #expect(t.zones.count == 2)
        #expect(Set(t.nodes.flatMap(\.roles.roles)) == Set(Role.allCases))
        #expect(t.ledger.address == HostPort("127.0.0.1:7400"))
        for node in t.nodes {
            #expect(node.address.host == "127.0.0.1" && node.address.port > 7400)
            let pub = try String(
                contentsOfFile: Fixtures.repositoryFile("topology/local-keys/\(node.id).key.pub"), encoding: .utf8)
            #expect(pub.trimmingCharacters(in: .whitespacesAndNewlines) == node.key.hex, "\(node.id)")
        }
    }
}
