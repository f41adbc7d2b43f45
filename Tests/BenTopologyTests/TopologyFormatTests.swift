import BenCore
import BenTopology
import Testing

/// Units, the canonical form and the YAML writer.
@Suite struct TopologyFormatTests {
    @Test(arguments: [
        ("10Gbit", Int64(10_000_000_000)), ("25 Gbit/s", 25_000_000_000), ("100Mbps", 100_000_000),
        ("1.5Gbit", 1_500_000_000), ("1.25GB/s", 10_000_000_000), ("64kbit", 64_000), ("800bit/s", 800),
    ])
    func bandwidthsParse(_ text: String, _ bits: Int64) {
        #expect(Bandwidth(parsing: text)?.bitsPerSecond == bits)
    }

    @Test(arguments: ["10", "ten Gbit", "10 gigs", "-1Gbit", "0Gbit", "", "Gbit"])
    func badBandwidthsAreRefused(_ text: String) {
        #expect(Bandwidth(parsing: text) == nil)
    }

    @Test(arguments: [("50us", Int64(50_000)), ("0.5ms", 500_000), ("30ms", 30_000_000), ("1s", 1_000_000_000), ("20µs", 20_000), ("0us", 0)])
    func latenciesParse(_ text: String, _ ns: Int64) {
        #expect(Latency(parsing: text)?.nanoseconds == ns)
    }

    @Test(arguments: [("1MiB", Int64(1 << 20)), ("64 MiB", 64 << 20), ("4096", 4096), ("1GB", 1_000_000_000), ("1.5KiB", 1536)])
    func sizesParse(_ text: String, _ bytes: Int64) {
        #expect(ByteSize.parse(text) == bytes)
    }

    @Test func canonicalJSONReadsBackAsTheSameTopology() throws {
        let t = try Topology(yaml: Fixtures.base)
        let json = t.canonicalString
        let again = try Topology(yaml: json, file: "canonical.json")
        #expect(again == t)
        #expect(again.canonicalBytes == t.canonicalBytes)
        #expect(json.hasPrefix("{\"defaults\":{\"chunk_size\":1048576,"))
        #expect(json.contains("\"uplink\":\"10000000000bit/s\""))
    }

    @Test func canonicalBytesIgnoreCommentsLayoutAndListOrder() throws {
        let t = try Topology(yaml: Fixtures.base)
        let reformatted = Fixtures.base
            .replacingOccurrences(of: "fleet: test", with: "# a comment\nfleet:   test   # trailing")
            .replacingOccurrences(of: "uplink: 10Gbit", with: "uplink: 10 Gbit/s")
        let u = try Topology(yaml: reformatted)
        #expect(u.canonicalBytes == t.canonicalBytes)
        let changed = try Topology(yaml: Fixtures.base.replacingOccurrences(of: "uplink: 10Gbit", with: "uplink: 25Gbit"))
        #expect(changed.canonicalBytes != t.canonicalBytes)
    }

    @Test func ipv6AddressesReadAndWriteBack() throws {
        let yaml = Fixtures.base.replacingOccurrences(of: "address: 10.0.2.1:7401", with: "address: \"[fd00::21]:7401\"")
        let t = try Topology(yaml: yaml)
        #expect(t.nodes[3].address == HostPort("[fd00::21]:7401"))
        #expect(try Topology(yaml: t.yaml()) == t)
        #expect(try Topology(yaml: t.canonicalString) == t)
    }

    @Test func selectorsPickRolesLocationsAndNodes() throws {
        let t = try Topology(yaml: Fixtures.base)
        func planned(_ selector: Selector) throws -> [String] {
            try Planner().plan(t, Fixtures.deployment(selector: selector)).plan.nodes.map(\.id.rawValue)
        }
        #expect(try planned(Selector(roles: [.proxy])) == ["a2", "a3"])
        #expect(try planned(Selector(locations: ["eu/b"])) == ["b1", "b2"])
        #expect(try planned(Selector(roles: [.detector], locations: ["eu/a/r1"])) == ["a3"])
        #expect(try planned(Selector(nodes: ["b2", "a1"])) == ["a1", "b2"])
        #expect(throws: TopologyError.self) { try planned(Selector(locations: ["us"])) }
        #expect(throws: TopologyError.self) { try planned(Selector(roles: [.spine], locations: ["eu/b"])) }
    }

    @Test func theYAMLWriterRoundTripsGeneratedFleets() throws {
        for seed in 1...20 as ClosedRange<UInt64> {
            let t = TopologyGenerator.generate(.init(regions: 2, zonesPerRegion: 2, racksPerZone: 3, nodes: 60, seed: seed))
            let again = try Topology(yaml: t.yaml(header: ["generated"]), file: "seed-\(seed).yaml")
            #expect(again == t, "seed \(seed)")
        }
    }

    @Test func theGeneratorIsDeterministicAndSpreadsNodesOverRacks() {
        let p = TopologyGenerator.Parameters(regions: 2, zonesPerRegion: 3, racksPerZone: 4, nodes: 1000, seed: 5)
        let a = TopologyGenerator.generate(p)
        #expect(a == TopologyGenerator.generate(p))
        #expect(a.nodes.count == 1000 && a.racks.count == 24)
        #expect(a.racks.allSatisfy { (41...42).contains($0.nodes.count) })
        #expect(a.validate().isEmpty)
        var other = p
        other.seed = 6
        #expect(TopologyGenerator.generate(other) != a)
    }
}
