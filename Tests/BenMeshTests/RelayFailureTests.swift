import BenCore
import BenTestKit
import Foundation
import Testing

/// Issue 7, items 1 and 2: nodes of the trees die with SIGKILL while chunks are in flight. Their parents retry,
/// give up, adopt their children from the subtree plan they hold, and report them; everyone else activates, and
/// the ledger names exactly the dead node. `deploy --retry` then reaches it.
@Suite(.serialized) struct RelayFailureTests {
    @Test func aRelayKilledMidTransferIsNamedAloneAndItsChildrenAreAdoptedThenRetryReachesIt() async throws {
        let shaped = try await ShapedFleet.start()
        let fleet = shaped.fleet
        let plan = try await fleet.deploy(shaped.version, ["--timeout", "30"])
        // The relay with the most nodes below it, preferring one fed by another agent (so an agent adopts, not the
        // ledger) and one in the ack tree (so acks must find another way up).
        let relays = plan.relays.keys.sorted()
        let victim = try #require(
            relays.max { a, b in
                func score(_ id: NodeID) -> (Int, Int, Int) {
                    let s = plan.relays[id]!.min()!
                    return (plan.parent(of: id, stripe: s) == nil ? 0 : 1, s == 0 ? 1 : 0, plan.descendants(of: id, stripe: s))
                }
                return score(a) < score(b)
            }, "the plan has a relay")
        let stripe = plan.relays[victim]!.min()!
        let parent = plan.parent(of: victim, stripe: stripe)
        let held = try await shaped.killMidTransfer(victim)
        #expect(held.have < held.of, "killed mid-transfer: \(held.have)/\(held.of) chunks")

        let status = try await shaped.waitDecided()
        #expect(status.status == "incomplete")
        try await shaped.expectOutcome(missing: [victim], reason: .unreachable)
        // Its parent gave up on it and took on its children.
        let adopterLog = parent.map { fleet.agentLog($0) } ?? fleet.ledgerLog
        let report = try #require(
            adopterLog.split(separator: "\n").first { $0.contains("child \(victim) unreachable") },
            "\(parent?.rawValue ?? "the ledger") reports \(victim) unreachable")
        let index = plan.nodes.firstIndex { $0.id == victim }!
        for child in plan.children(stripe: stripe)[index].map({ plan.nodes[Int($0)].id }) {
            #expect(report.contains("adopted") && report.contains(child.rawValue), "\(child) was adopted: \(report)")
        }

        // Restarted, the relay catches up; --retry announces again to the missing node only, and v is active.
        try await fleet.startAgent(victim)
        try await ShapedFleet.waitListening(fleet, [victim], times: 2)
        let retry = try await fleet.benctlInBackground(["deploy", "\(shaped.version.rawValue)", "--retry", "--wait", "--timeout", "30"])
        #expect(retry.status == 0, "\(retry.stdout)\(retry.stderr)")
        try await shaped.expectOutcome(missing: [])
        #expect(try await shaped.auditedTransitions().suffix(3) == ["incomplete", "deploying", "active"])
        // It fetched only what it lacked: the chunks it held before the kill stayed.
        let summary = try #require(fleet.agentLog(victim).split(separator: "\n").last { $0.contains("transfer complete") })
        let chunks = Int(summary.firstMatch(of: /chunks=(\d+)/)?.1 ?? "") ?? Int.max
        // At most a send window more: chunks already on the wire of a pull it closed when the retry's parent came.
        #expect(chunks <= held.of - held.have + 4, "fetched \(chunks) chunks after the restart; it held \(held.have) of \(held.of)")
    }

    @Test func aLeafKilledMidTransferIsNamedAloneAndEveryoneElseActivates() async throws {
        let shaped = try await ShapedFleet.start()
        let plan = try await shaped.fleet.deploy(shaped.version, ["--timeout", "12"])
        let victim = try #require(plan.leaves.sorted().last, "the plan has a node that relays in no stripe tree")
        let held = try await shaped.killMidTransfer(victim)
        #expect(held.have < held.of, "killed mid-transfer: \(held.have)/\(held.of) chunks")
        let status = try await shaped.waitDecided()
        #expect(status.status == "incomplete")
        try await shaped.expectOutcome(missing: [victim], reason: .unreachable)
    }
}
