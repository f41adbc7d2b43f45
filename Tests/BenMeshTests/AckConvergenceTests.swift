import BenCore
import BenCrypto
import BenTestKit
import Foundation
import Testing

/// Issue 13 against real processes: a lost ack is recovered by `--retry` without a byte of the bundle sent
/// again, a node that will not accept the announcement is reported with its own signed reason, and a node
/// that was down when the plan was made is named `down` and makes the version active when it comes back.
@Suite struct AckConvergenceTests {
    static let intent = ProcessRunner.repositoryRoot() + "/examples/intent"

    @Test func aLostAckIsRecoveredByRetryWithNothingSentAgain() async throws {
        let fleet = try await LocalFleet(nodes: 4, rackSize: 2)
        let victim: NodeID = "node-4"
        fleet.nodeArguments[victim] = ["--fault-drop-acks", "1"]
        try await fleet.startLedger()
        try await fleet.startAgents()
        let version = try await fleet.stage(Self.intent)
        let first = try await fleet.benctlInBackground(["deploy", "\(version.rawValue)", "--wait", "--timeout", "6"])
        #expect(first.status == 2, "the lost ack leaves it incomplete: \(first.stdout)\(first.stderr)")
        let before = try await fleet.status(version)
        #expect(before.missing.map(\.node).contains(victim), "\(before.missing)")
        #expect(fleet.agentState(victim)?.active == version, "the node itself activated")
        #expect(fleet.agentLog(victim).contains("fault injection: lost an aggregate"))

        let retry = try await fleet.benctlInBackground(["deploy", "\(version.rawValue)", "--retry", "--wait"])
        #expect(retry.status == 0, "\(retry.stdout)\(retry.stderr)")
        #expect(retry.stdout.contains("\(victim): answered again"), "--retry says what happened to each node: \(retry.stdout)")
        let after = try await fleet.status(version)
        #expect(after.status == "active" && after.active == 4)
        #expect(after.ledgerEgress == before.ledgerEgress, "the retry sent no chunk: \(before.ledgerEgress) then \(after.ledgerEgress)")
        #expect(!fleet.agentLog(victim).contains("refused announcement of \(version)"), "asked again, it answered; it never refused")
    }

    @Test func aNodeThatDistrustsTheLedgersKeyIsReportedRefusedWithItsOwnReason() async throws {
        let fleet = try await LocalFleet(nodes: 3, rackSize: 3)
        let stranger: NodeID = "node-2"
        fleet.trustedLedgerKey[stranger] = SigningKey.generate().publicKey.hex
        try await fleet.startLedger()
        try await fleet.startAgents()
        let version = try await fleet.stage(Self.intent)
        let outcome = try await fleet.benctlInBackground(["deploy", "\(version.rawValue)", "--wait", "--timeout", "8"])
        #expect(outcome.status == 2)
        let status = try await fleet.status(version)
        let missing = try #require(status.missing.first { $0.node == stranger }, "\(status.missing)")
        #expect(missing.reason.code == .refused, "refused, never unreachable: \(missing.reason)")
        #expect(missing.reason.detail.contains("signature"), "\(missing.reason)")
        #expect(status.active == 2)
    }

    @Test func aNodeDownWhenThePlanIsMadeIsNamedDownAndItsAckMakesTheVersionActiveWhenItReturns() async throws {
        let fleet = try await LocalFleet(nodes: 3, rackSize: 3)
        fleet.ledgerArguments = ["--silent-after", "3"]
        try await fleet.startLedger()
        try await fleet.startAgents()
        let sleeper: NodeID = "node-3"
        try await fleet.waitUntilReady()
        #expect(try await fleet.benctl(["topology", "apply", fleet.topologyPath]).status == 0)
        func silent() async -> [String]? {
            guard let outcome = try? await fleet.benctl(["status", "--drift", "--json"]), let drift = try? JSONParser.parse(outcome.stdout) else {
                return nil
            }
            return (drift["silent"]?.arrayValue ?? []).compactMap { $0["node"]?.stringValue }
        }
        try await fleet.waitUntil(timeout: .seconds(20), "the ledger has heard every node") { await silent() == [] }
        await fleet.stopAgent(sleeper, signal: SIGKILL)
        try await fleet.waitUntil(timeout: .seconds(20), "the ledger calls \(sleeper) silent") { await silent() == [sleeper.rawValue] }
        let version = try await fleet.stage(Self.intent)
        let outcome = try await fleet.benctlInBackground(["deploy", "\(version.rawValue)", "--wait", "--timeout", "5"])
        #expect(outcome.status == 2, "a required node is down: not active. \(outcome.stdout)")
        let status = try await fleet.status(version)
        #expect(status.missing.map(\.node) == [sleeper] && status.missing.first?.reason.code == .down, "\(status.missing)")

        // It comes back, reads the announcement from JetStream, pulls as an orphan and acks: a late ack counts.
        try await fleet.startAgent(sleeper)
        try await fleet.waitUntil(timeout: .seconds(40), "the late ack makes \(version) active") {
            (try? await fleet.status(version))?.status == "active"
        }
        let active = try await fleet.status(version)
        #expect(active.activeAfterDeadline != nil, "active after its deadline: \(active.changedAt) vs \(String(describing: active.deadline))")
        #expect(try await fleet.benctl(["status", "\(version.rawValue)"]).stdout.contains("after the deadline"))
    }
}
