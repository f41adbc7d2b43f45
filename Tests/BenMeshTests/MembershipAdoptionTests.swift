import BenCore
import BenTestKit
import Foundation
import Testing

/// Issue 16, item 1: relays learn from membership that a child is dead, and adopt sooner. A stopped process
/// (SIGSTOP) keeps its TCP connections open, so its relay's link neither resets nor fails; only membership
/// (probes unanswered, suspicion unrefuted) tells the relay to give up on it and take on its children.
@Suite(.serialized) struct MembershipAdoptionTests {
    /// The stopped child, a relay itself, is declared dead by gossip while the bundle is still on the wire; its
    /// parent adopts its children with that reason, they complete, and after SIGCONT the child refutes and is alive
    /// again at a higher incarnation.
    @Test func aStoppedRelaysChildrenAreAdoptedOnceMembershipDeclaresItDeadAndItRejoinsAfterItContinues() async throws {
        // 24 MiB at 24 Mbit/s an uploader: the transfer runs for well over the seconds membership takes.
        // Gossip from the start (the roster from the topology file), so membership is warm before the rollout.
        let shaped = try await ShapedFleet.start(payload: 24 << 20, configure: { $0.agentArguments += ["--topology", $0.topologyPath] })
        let fleet = shaped.fleet
        try await GossipTests.waitGossiping(fleet, fleet.nodes.map(\.id))
        try await fleet.waitUntil(timeout: .seconds(60), "the ledger hears every member alive") {
            let members = await GossipTests.members(fleet)
            return members.count == fleet.nodes.count && members.values.allSatisfy { $0.status == "alive" }
        }
        let plan = try await fleet.deploy(shaped.version, ["--timeout", "90"])
        // A node with children of its own, fed by an agent (not the ledger) in that stripe: that agent adopts.
        let candidates = plan.relays.flatMap { id, stripes in
            stripes.compactMap { s in plan.parent(of: id, stripe: s).map { (victim: id, stripe: s, parent: $0) } }
        }
        let chosen = try #require(
            candidates.max { (plan.descendants(of: $0.victim, stripe: $0.stripe), $0.victim) < (plan.descendants(of: $1.victim, stripe: $1.stripe), $1.victim) },
            "the plan has a relay fed by another agent")
        let (victim, stripe, relay) = chosen
        let index = plan.nodes.firstIndex { $0.id == victim }!
        let grandchildren = plan.children(stripe: stripe)[index].map { plan.nodes[Int($0)].id }
        let before = await GossipTests.members(fleet)[victim]?.incarnation ?? 0

        try await fleet.waitUntil(timeout: .seconds(30), "\(victim) holds part of the bundle") {
            let held = fleet.chunksHeld(victim, manifest: shaped.manifest)
            return held.have >= 2 && held.have < held.of
        }
        fleet.agents[victim]?.signal(SIGSTOP)
        let stopped = ContinuousClock.now
        defer { fleet.agents[victim]?.signal(SIGCONT) }
        let heldWhenStopped = grandchildren.map { fleet.chunksHeld($0, manifest: shaped.manifest) }

        let report = "child \(victim) unreachable"
        try await fleet.waitUntil(timeout: .seconds(60), "\(relay) gives up on \(victim) and adopts its children") {
            fleet.agentLog(relay).contains(report)
        }
        let adoptedAfter = ContinuousClock.now - stopped
        let status = try await fleet.status(shaped.version)
        let heldWhenAdopted = grandchildren.map { fleet.chunksHeld($0, manifest: shaped.manifest) }
        print(
            "\(relay) adopted \(grandchildren.map(\.rawValue)) of \(victim) \(adoptedAfter) after SIGSTOP; the rollout was \(status.status); "
                + "they held \(heldWhenStopped.map { "\($0.have)/\($0.of)" }) chunks at SIGSTOP, \(heldWhenAdopted.map { "\($0.have)/\($0.of)" }) then")
        // The children's own stall judge (silence past max(3 s, 4 chunk times)) sends them to backups and the ledger's
        // store, but adopts no one; it is the relay that takes them on, and only membership tells it to.
        let stalled = grandchildren.filter { fleet.agentLog($0).contains("stripe stalled") }
        print("children whose stall judge had fired by then: \(stalled.map(\.rawValue))")
        #expect(status.status == "deploying", "the adoption came while the rollout ran")
        #expect(heldWhenAdopted.contains { $0.have < $0.of }, "a child of \(victim) still lacked chunks when it was adopted")

        // Why: membership declared it dead. Not the link (a stopped process resets nothing, and its connect would
        // time out), not the children's stall judge (which fetches elsewhere and adopts no one).
        let lines = fleet.agentLog(relay).split(separator: "\n").filter { $0.contains(report) }
        #expect(lines.count == 1, "one adoption of \(victim)'s children: \(lines)")
        let line = try #require(lines.first)
        #expect(line.contains("declared dead by gossip"), "the adoption's reason is membership: \(line)")
        #expect(line.contains("event=parent adopted"), "logged as an adoption: \(line)")
        for child in grandchildren { #expect(line.contains(child.rawValue), "\(child) was adopted: \(line)") }
        let memberDead = fleet.agentLog(relay).split(separator: "\n").firstIndex { $0.contains("member dead") && $0.contains("\(victim)") }
        let adopted = fleet.agentLog(relay).split(separator: "\n").firstIndex { $0.contains(report) }
        #expect(memberDead != nil && memberDead! < adopted!, "\(relay) heard \(victim) was dead before it adopted")

        // The adopted children complete, as does everyone but the stopped node.
        try await fleet.waitUntil(timeout: .seconds(90), "every node but \(victim) runs v\(shaped.version.rawValue)") {
            fleet.nodes.map(\.id).filter { $0 != victim }.allSatisfy { fleet.agentState($0)?.active == shaped.version }
        }
        print("every node but \(victim) active \(ContinuousClock.now - stopped) after SIGSTOP")

        // Continued, it hears it was declared dead, refutes with a higher incarnation and is alive again.
        fleet.agents[victim]?.signal(SIGCONT)
        let continued = ContinuousClock.now
        try await fleet.waitUntil(timeout: .seconds(60), "\(victim) is alive again at a higher incarnation") {
            let member = await GossipTests.members(fleet)[victim]
            return member?.status == "alive" && (member?.incarnation ?? 0) > before
        }
        print("\(victim) alive again \(ContinuousClock.now - continued) after SIGCONT")
        #expect(fleet.agentLog(victim).contains("refuted a suspicion of this node"))
        let members = await GossipTests.members(fleet)
        #expect(members.values.allSatisfy { $0.status == "alive" }, "every member alive again: \(members)")
    }
}
