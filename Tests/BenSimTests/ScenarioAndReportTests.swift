import BenCore
@testable import BenSim
import BenTestKit
import Foundation
import Testing

/// Scenario files (errors name file, line and field), the shipped scenarios, and the JSON/CSV/HTML outputs.
@Suite struct ScenarioAndReportTests {
    func error(_ yaml: String) -> SimError? {
        do {
            _ = try Scenario.read(yaml: yaml, file: "scenarios/bad.yaml")
            return nil
        } catch { return error }
    }

    @Test func readerErrorsNameFileLineAndField() throws {
        let base = SimFixtures.small
        // An unknown strategy on line 15.
        let badStrategy = base.replacingOccurrences(of: "[ben-tree, star, broker, binary-tree, chain, swarm]", with: "[ben-tree, gossip]")
        let e1 = try #require(error(badStrategy))
        #expect(e1.file == "scenarios/bad.yaml")
        #expect(e1.line == 15, "\(e1)")
        #expect(e1.field == "strategies[1]")
        #expect(e1.description.hasPrefix("scenarios/bad.yaml:15: strategies[1]: unknown strategy 'gossip'"), "\(e1)")
        // A bad duration deep inside the faults (line 19).
        let badAt = base.replacingOccurrences(of: "{at: 10ms, relays: 2}", with: "{at: soon, relays: 2}")
        let e2 = try #require(error(badAt))
        #expect(e2.line == 19, "\(e2)")
        #expect(e2.field == "faults.kill[0].at", "\(e2)")
        // An unknown field.
        let e3 = try #require(error(base.replacingOccurrences(of: "seed: 11", with: "seed: 11\nsead: 12")))
        #expect(e3.code == .unknownField)
        #expect(e3.line == 5 && e3.field == "sead", "\(e3)")
        // A missing required field.
        let e4 = try #require(error(base.replacingOccurrences(of: "bundle: {size: 32MiB, chunk: 1MiB}", with: "bundle: {chunk: 1MiB}")))
        #expect(e4.code == .missingField && e4.field == "bundle.size" && e4.line == 7, "\(e4)")
        // A value out of range.
        let e5 = try #require(error(base.replacingOccurrences(of: "down: {fraction: 0.02}", with: "down: {fraction: 2}")))
        #expect(e5.field == "faults.down.fraction" && e5.line == 17, "\(e5)")
        // Not YAML at all.
        let e6 = try #require(error("format: [\n"))
        #expect(e6.code == .syntax && e6.file == "scenarios/bad.yaml")
    }

    @Test func anAliasBombScenarioIsOneErrorNamingTheAliases() throws {
        let refused = try #require(error("format: ben/sim-scenario/v1\n" + HostileYAML.billionLaughs(under: "faults")))
        #expect(refused.description.contains("aliases (*name)"), "\(refused)")
        #expect(refused.description.hasPrefix("scenarios/bad.yaml:"), "\(refused)")
        let key = try #require(error(HostileYAML.keyBomb))
        #expect(key.description.contains("a mapping key here is a list, a mapping or an alias"), "\(key)")
    }

    @Test func shippedScenariosRead() throws {
        let root = ProcessRunner.repositoryRoot()
        let folder = root + "/Sim/scenarios"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 3)
        var sizes: [Int] = []
        for file in files {
            let s = try Scenario.load(path: folder + "/" + file)
            #expect(Set(s.strategies) == Set(Scenario.Strategy.allCases), "\(file)")
            #expect(!s.faults.isEmpty, "\(file)")
            if case .generated(let p) = s.fleet { sizes.append(p.nodes) }
        }
        #expect(sizes.contains(1_000) && sizes.contains(100_000) && sizes.contains(1_000_000), "\(sizes)")
    }

    /// The small scenario's full report, computed once for the output tests.
    static let shared = Result { try fresh() }

    static func report() throws -> SimReport { try shared.get() }

    static func fresh() throws -> SimReport {
        let scenario = try SimFixtures.scenario(SimFixtures.small)
        let sim = try FlowSimulation(scenario: scenario)
        let flow = try sim.runAll()
        let outcome = try ProtocolSimulation.run(scenario: scenario, fleet: sim.fleet).outcome
        return SimReport(flow: flow, protocolOutcome: outcome)
    }

    @Test func jsonParsesAndCarriesTheFigures() throws {
        let report = try Self.report()
        let text = report.jsonText()
        let json = try JSONParser.parse(text)
        #expect(json["format"]?.stringValue == "ben/sim-report/v1")
        let strategies = try #require(json["strategies"]?.arrayValue)
        #expect(strategies.count == 6)
        for s in strategies {
            let baseline = try #require(s["baseline"])
            for field in ["ratio_to_optimal", "p99_over_p50", "duplicated_bytes", "ledger_egress_bytes", "ledger_messages", "bytes_per_tier", "cdf"] {
                #expect(baseline[field] != nil, "\(field)")
            }
            #expect(s["with_faults"] != nil)
        }
        let tree = try #require(strategies.first { $0["strategy"]?.stringValue == "ben-tree" })
        let interior = try #require(tree["fault_effects"]?.arrayValue).filter { $0["interior_failure"] == .bool(true) }
        #expect(!interior.isEmpty)
        for effect in interior {
            #expect(effect["nodes_delayed"] != nil && effect["max_seconds_added"] != nil)
        }
        #expect(json["protocol"]?["invariants_hold"] == .bool(true))
        // Same scenario, same seed: same bytes.
        #expect(try Self.fresh().jsonText() == text)
    }

    @Test func csvParses() throws {
        let csv = try Self.report().csv
        let rows = parseCSV(csv)
        #expect(rows.first == ["section", "strategy", "run", "field", "value"])
        for (i, row) in rows.enumerated() { #expect(row.count == 5, "row \(i): \(row)") }
        let sections = Set(rows.dropFirst().map { $0[0] })
        #expect(sections.isSuperset(of: ["summary", "cdf", "fault", "protocol"]))
        let ratio = rows.first { $0[0] == "summary" && $0[1] == "ben-tree" && $0[3] == "ratio_to_optimal" }
        #expect(ratio.flatMap { Double($0[4]) }.map { $0 >= 1 } == true)
    }

    @Test func htmlIsSelfContainedWithEveryChart() throws {
        let html = try Self.report().html
        #expect(html.hasPrefix("<!DOCTYPE html>") || html.hasPrefix("<!doctype html>"))
        #expect(!html.contains("<script src") && !html.contains("<link "))
        for id in SimReport.chartIDs { #expect(html.contains("id=\"\(id)\""), "\(id)") }
    }
}

/// RFC 4180 rows.
func parseCSV(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var quoted = false
    var chars = Array(text)[...]
    while let c = chars.popFirst() {
        if quoted {
            if c == "\"" {
                if chars.first == "\"" {
                    field.append("\"")
                    chars.removeFirst()
                } else {
                    quoted = false
                }
            } else {
                field.append(c)
            }
        } else if c == "\"" {
            quoted = true
        } else if c == "," {
            row.append(field)
            field = ""
        } else if c == "\n" {
            row.append(field)
            rows.append(row)
            row = []
            field = ""
        } else {
            field.append(c)
        }
    }
    if !field.isEmpty || !row.isEmpty { rows.append(row + [field]) }
    return rows
}

/// The HTML report opened in headless Chromium: the page's own script measures every chart after layout and writes
/// its rendered size and the number of marks with a non-empty bounding box; the dumped DOM must show them.
@Suite struct ReportInChromiumTests {
    static var chromium: String? { ProcessRunner.which("chromium") ?? ProcessRunner.which("chromium-browser") }

    @Test
    func chartsRender() async throws {
        let html = try ScenarioAndReportTests.report().html
        let folder = try TemporaryDirectory(prefix: "ben-sim-report")
        let page = folder.file("report.html")
        try html.write(toFile: page, atomically: true, encoding: .utf8)
        let outcome = try await ProcessRunner.run(
            try #require(Self.chromium, "chromium is not installed; .ci/install-deps installs it"),
            ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=\(folder.file("profile"))",
             "--virtual-time-budget=5000", "--dump-dom", "file://\(page)"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let dom = outcome.stdout
        #expect(dom.contains("data-charts-checked=\"yes\""), "the page's script did not run")
        for id in SimReport.chartIDs {
            guard let range = dom.range(of: "id=\"\(id)\"") else {
                Issue.record("chart \(id) missing from the rendered DOM")
                continue
            }
            let tag = dom[dom[..<range.lowerBound].range(of: "<svg", options: .backwards)!.lowerBound...].prefix { $0 != ">" }
            let rendered = tag.firstMatch(of: /data-rendered="(\d+)x(\d+)"/)
            let marks = tag.firstMatch(of: /data-marks="(\d+)"/)
            #expect(rendered.map { Int($0.1)! > 100 && Int($0.2)! > 50 } == true, "\(id): \(tag)")
            #expect(marks.map { Int($0.1)! > 0 } == true, "\(id): nothing drawn: \(tag)")
        }
    }
}
