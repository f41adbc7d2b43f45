import BenCore
@testable import BenSim
import BenProtocol
import Testing

/// The protocol engine: the real machines, a simulated network, the four invariants.
@Suite struct ProtocolEngineTests {
    func setting() throws -> (Scenario, SimFleet) {
        let scenario = try SimFixtures.scenario(SimFixtures.small)
        return (scenario, try SimFleet(scenario: scenario))
    }

    @Test func sameSeedSameTraceByteForByte() throws {
        let (scenario, fleet) = try setting()
        let a = try ProtocolSimulation.run(scenario: scenario, fleet: fleet, keepTrace: true)
        let b = try ProtocolSimulation.run(scenario: scenario, fleet: fleet, keepTrace: true)
        #expect(a.trace.count > 1000)
        #expect(a.trace == b.trace)
        #expect(a.outcome.traceDigest == b.outcome.traceDigest)
        let ja = try CanonicalJSON.string(a.outcome.json())
        let jb = try CanonicalJSON.string(b.outcome.json())
        #expect(ja == jb)
        let c = try ProtocolSimulation.run(scenario: scenario, fleet: fleet, seed: scenario.seed + 1)
        #expect(c.outcome.traceDigest != a.outcome.traceDigest)
    }

    @Test func invariantsHoldUnderRelayFailuresAndTheGremlin() throws {
        let (scenario, fleet) = try setting()
        let outcome = try ProtocolSimulation.run(scenario: scenario, fleet: fleet).outcome
        #expect(outcome.violations.isEmpty, "\(outcome.violations)")
        #expect(outcome.relaysKilled > 0)
        #expect(outcome.versions.count == 2)
        for v in outcome.versions {
            #expect(v.status == .active || v.status == .incomplete)
            // Every required node that did not switch is listed with a reason; the rest switched.
            #expect(v.activated + v.notSwitched.count == v.required, "\(v.version)")
            for missing in v.notSwitched { #expect(!missing.reason.text.isEmpty, "\(missing.node)") }
        }
        // The killed relays cannot have switched: the first version is incomplete and names them.
        #expect(outcome.versions[0].status == .incomplete)
        #expect(outcome.versions[0].notSwitched.count >= outcome.relaysKilled)
    }

    @Test func compileFailuresAndTamperingAreReportedNotActivated() throws {
        var (scenario, fleet) = try setting()
        let plan = fleet.planned.plan
        // A relay that tampers (its children must refuse its bytes and fetch elsewhere) and a node that cannot compile.
        let relayIndex: Int32? = plan.stripes[0].first { $0 >= 0 }
        let relay = plan.nodes[Int(try #require(relayIndex))].id
        let failing = plan.nodes.last!.id
        scenario.protocolRun!.relayFailures = 0
        scenario.protocolRun!.deployments = 1
        scenario.protocolRun!.tampering = [relay.rawValue]
        scenario.protocolRun!.compileFailures = [failing.rawValue]
        fleet = try SimFleet(scenario: scenario)
        let outcome = try ProtocolSimulation.run(scenario: scenario, fleet: fleet).outcome
        #expect(outcome.violations.isEmpty, "\(outcome.violations)")
        let v = try #require(outcome.versions.first)
        #expect(v.status == .incomplete)
        let reported = Dictionary(uniqueKeysWithValues: v.notSwitched.map { ($0.node, $0.reason) })
        #expect(reported[failing] != nil, "the node whose compile failed is not reported")
        #expect(v.activated + v.notSwitched.count == v.required)
    }

    // Deliberately broken runs: the checker compares against the ground truth the engine keeps, so each sabotage
    // must surface as its invariant.

    @Test func aForgedAckIsCaught() throws {
        var (scenario, fleet) = try setting()
        scenario.protocolRun!.relayFailures = 0
        scenario.protocolRun!.deployments = 1
        scenario.protocolRun!.drop = 0
        let failing = fleet.planned.plan.nodes.last!.id
        scenario.protocolRun!.compileFailures = [failing.rawValue]
        fleet = try SimFleet(scenario: scenario)
        let honest = try ProtocolSimulation.run(scenario: scenario, fleet: fleet).outcome
        #expect(honest.passed)
        #expect(honest.versions[0].status == .incomplete)
        // The ledger counts an unchecked, forged ack for the node that never switched: the version goes active.
        let broken = try ProtocolSimulation.run(scenario: scenario, fleet: fleet, sabotage: .init(forgedAckFor: failing)).outcome
        #expect(broken.versions[0].status == .active)
        #expect(!broken.passed)
        #expect(broken.violations.contains { $0.invariant == .activeWithoutEverySignedAck && $0.detail.contains(failing.rawValue) })
    }

    @Test func activatingTamperedContentIsCaught() throws {
        var (scenario, fleet) = try setting()
        let plan = fleet.planned.plan
        let relayIndex: Int32? = plan.stripes[0].first { $0 >= 0 }
        let relay = plan.nodes[Int(try #require(relayIndex))].id
        scenario.protocolRun!.relayFailures = 0
        scenario.protocolRun!.deployments = 1
        scenario.protocolRun!.tampering = [relay.rawValue]
        fleet = try SimFleet(scenario: scenario)
        // The wire hides the tampering from the machines' hash checks: children activate altered bytes.
        let broken = try ProtocolSimulation.run(scenario: scenario, fleet: fleet, sabotage: .init(hideTampering: true)).outcome
        #expect(broken.violations.contains { $0.invariant == .unverifiedContentActivated }, "\(broken.violations)")
    }

    @Test func aNodeRestoredFromAStaleCopyOfItsStateIsCaughtGoingBackwards() throws {
        var (scenario, fleet) = try setting()
        scenario.protocolRun!.relayFailures = 0
        scenario.protocolRun!.drop = 0
        scenario.protocolRun!.deployments = 2
        fleet = try SimFleet(scenario: scenario)
        let node = fleet.planned.plan.nodes[3].id
        let honest = try ProtocolSimulation.run(scenario: scenario, fleet: fleet).outcome
        #expect(honest.passed, "\(honest.violations)")
        // After switching to v2 the node restarts from the state it persisted at v1, and serves v1 again.
        let broken = try ProtocolSimulation.run(scenario: scenario, fleet: fleet, sabotage: .init(staleRestoreOf: node)).outcome
        let backwards = broken.violations.filter { $0.invariant == .versionWentBackwards }
        #expect(backwards.count == 2, "\(broken.violations)")  // what it activated, and what it persisted
        #expect(backwards.allSatisfy { $0.detail.hasPrefix("\(node) ") })
        #expect(backwards.contains { $0.detail.contains("v1 then v2 then v1") })
    }

    @Test func aDeploymentTheLedgerNeverDecidesLeavesItsNonSwitchersUnreportedAndIsCaught() throws {
        var (scenario, fleet) = try setting()
        scenario.protocolRun!.drop = 0
        scenario.protocolRun!.deployments = 1
        fleet = try SimFleet(scenario: scenario)
        let honest = try ProtocolSimulation.run(scenario: scenario, fleet: fleet).outcome
        #expect(honest.passed, "\(honest.violations)")
        #expect(honest.relaysKilled > 0)
        // Killed relays never answer, so only the deadline decides the version: incomplete, naming them.
        #expect(honest.versions[0].status == .incomplete)
        // With the deadline timer lost, nothing ever names the dead relays.
        let broken = try ProtocolSimulation.run(scenario: scenario, fleet: fleet, sabotage: .init(loseLedgerDeadline: true)).outcome
        #expect(broken.versions[0].status == .deploying)
        #expect(broken.violations.map(\.invariant) == [.notSwitchedUnreported], "\(broken.violations)")
    }

    @Test func replayGivesTheSameOutcome() throws {
        let (scenario, fleet) = try setting()
        let first = try ProtocolSimulation.run(scenario: scenario, fleet: fleet, seed: 77).outcome
        let again = try ProtocolSimulation.run(scenario: scenario, fleet: SimFleet(scenario: scenario), seed: 77).outcome
        #expect(first.traceDigest == again.traceDigest)
        #expect(first.seed == 77)
    }
}
