import BenCore
import BenProtocol
@testable import BenSim
import BenTestKit
import Foundation
import Testing

/// The gossip engine: the real membership and broadcast machines under partition, loss, crashes, pauses and
/// forgeries; the three invariants hold, and a sabotaged run breaks each and is caught.
@Suite struct GossipEngineTests {
    /// 80 nodes in two regions; the zone us-east/b has no NATS and is cut off while v2 is announced; forgers try
    /// their luck. Small enough to run in a few seconds in a debug build.
    static let heal = """
        format: ben/sim-gossip/v1
        name: heal
        seed: 4
        topology:
          generate: {regions: 2, zones: 2, racks: 2, nodes: 80, seed: 2, variety: false}
        duration: 95s
        membership: true
        announcements: [3s, 15s]
        nats: {cut: 0.2, zone: us-east/b}
        gremlin:
          drop: 0.01
          partition: {zone: us-east/b, from: 8s, until: 30s}
        faults:
          kill: {fraction: 0.03, at: 5s}
          impostors: 30
        bound: 25s
        settle: 40s
        wire_check: true
        """

    static func scenario(_ yaml: String = heal) throws -> GossipScenario { try GossipScenario.read(yaml: yaml, file: "heal.yaml") }

    @Test func theInvariantsHoldThroughAPartitionCrashesAndForgeries() throws {
        let outcome = try GossipSimulation.run(scenario: Self.scenario())
        #expect(outcome.violations.isEmpty, "\(outcome.violations)")
        #expect(outcome.unjudged == 0)
        let v2 = try #require(outcome.announcements.last)
        #expect(v2.learned == v2.live, "every live node learned v2")
        #expect(v2.timeToActive != nil, "every live node's ack reached the ledger, the cut-off zone's through peers")
        #expect(outcome.acksRelayed > 0)
        #expect(outcome.crashed == 2 && outcome.undetected == 0)
        #expect((outcome.refused["signature does not verify"] ?? 0) > 0, "the forgeries were refused: \(outcome.refused)")
        #expect(outcome.largestDatagram <= 1400)
    }

    @Test func theSameSeedGivesTheSameRun() throws {
        let s = try Self.scenario()
        let a = try GossipSimulation.run(scenario: s)
        let b = try GossipSimulation.run(scenario: s)
        #expect(a.fingerprint == b.fingerprint)
        #expect(a.jsonText() == b.jsonText())
        let c = try GossipSimulation.run(scenario: s, seed: 5)
        #expect(c.fingerprint != a.fingerprint)
    }

    // Deliberately broken runs: each must surface as its invariant, and only as it.

    @Test func losingAntiEntropyLeavesTheHealedZoneBehindAndIsCaught() throws {
        let outcome = try GossipSimulation.run(scenario: Self.scenario(), sabotage: .init(loseAntiEntropy: true))
        #expect(outcome.violations.map(\.invariant) == [.newestLearnedWithinBound], "\(outcome.violations)")
        #expect(outcome.violations.first?.detail.contains("us-east-b") == true)
    }

    @Test func trustingForgedDatagramsAdmitsAForgedIncarnationAndIsCaught() throws {
        let outcome = try GossipSimulation.run(scenario: Self.scenario(), sabotage: .init(trustForgedDatagrams: true))
        #expect(!outcome.violations.isEmpty)
        #expect(Set(outcome.violations.map(\.invariant)) == [.unauthenticatedAdmitted], "\(outcome.violations)")
        #expect(outcome.violations.contains { $0.detail.contains("never claimed") })
    }

    @Test func neverProbingTheDeadLeavesLiveNodesDeadAndIsCaught() throws {
        let outcome = try GossipSimulation.run(scenario: Self.scenario(), sabotage: .init(silenceTheDead: true))
        #expect(outcome.violations.map(\.invariant) == [.aliveLeftDead], "\(outcome.violations)")
    }

    @Test func aBadScenarioNamesItsFileLineAndField() {
        let bad = Self.heal.replacingOccurrences(of: "drop: 0.01", with: "drop: lots")
        #expect(throws: SimError.self) { try GossipScenario.read(yaml: bad, file: "heal.yaml") }
        do {
            _ = try GossipScenario.read(yaml: bad, file: "heal.yaml")
        } catch {
            #expect(error.description.hasPrefix("heal.yaml:11: gremlin.drop:"), "\(error)")
        }
        let wrong = Self.heal.replacingOccurrences(of: "ben/sim-gossip/v1", with: "ben/sim-scenario/v1")
        #expect(throws: SimError.self) { try GossipScenario.read(yaml: wrong, file: "heal.yaml") }
    }

    @Test func shippedGossipScenariosRead() throws {
        let folder = ProcessRunner.repositoryRoot() + "/Sim/scenarios/gossip"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files == ["heal.yaml", "spread.yaml"])
        for file in files { _ = try GossipScenario.load(path: folder + "/" + file) }
    }

    @Test
    func benSimGossipPrintsTheFiguresAndWritesJSON() async throws {
        let folder = try TemporaryDirectory(prefix: "ben-sim-gossip")
        let scenario = folder.file("heal.yaml")
        try Self.heal.write(toFile: scenario, atomically: true, encoding: .utf8)
        let run = try await ProcessRunner.run(ProcessRunner.product("ben-sim"), ["gossip", scenario, "--json", folder.file("g.json")])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("gossip engine: 80 nodes") && run.stdout.contains("invariants: all hold"), "\(run.stdout)")
        let json = try JSONParser.parse(String(contentsOfFile: folder.file("g.json"), encoding: .utf8))
        #expect(json["format"]?.stringValue == "ben/sim-gossip-report/v1")
    }
}
