import BenCore
import BenTestKit
import Foundation
import Synchronization
import Testing

/// Issue 17 with real processes (item 5): nats-server, ben-ledger and one ben-agent per node, driven with benctl.
/// Canaries that refuse a bad bundle abort the rollout before wave 2; pause then resume; an abort mid-wave with an
/// automatic rollback; a noisy detection rule tripping the alert gate during the canary's bake; and a two-phase rollout
/// with a node killed between prepare and activate.
@Suite(.serialized) struct RolloutControlTests {
    let repository = ProcessRunner.repositoryRoot()

    /// Six nodes in two racks (node-1…3 in r1, node-4…6 in r2); node-1 and node-4 are detectors, the rest proxies.
    /// v1 (the example intent) is active everywhere.
    func fleetOnV1() async throws -> LocalFleet {
        let fleet = try await LocalFleet(nodes: 6, roles: { $0 % 3 == 0 ? [.detector] : [.proxy] })
        try await fleet.startLedger()
        try await fleet.startAgents()
        try await fleet.waitUntilReady(timeout: .seconds(60))
        let v1 = try await fleet.stage(repository + "/examples/intent")
        let deployed = try await fleet.benctl(["deploy", "\(v1.rawValue)", "--wait", "--timeout", "60"])
        guard deployed.status == 0 else { throw LocalFleetError("v1 did not become active: \(deployed.stdout)\(deployed.stderr)\n\(fleet.diagnostics())") }
        return fleet
    }

    /// Stages the example intent again (a new version with the same content) and returns it.
    func stageAgain(_ fleet: LocalFleet, _ folder: String? = nil) async throws -> Version {
        let staged = try await fleet.benctl(["stage", folder ?? repository + "/examples/intent", "--json"])
        guard staged.status == 0, let v = try JSONParser.parse(staged.stdout)["version"]?.intValue else {
            throw LocalFleetError("stage failed: \(staged.stderr)")
        }
        return Version(UInt64(v))
    }

    /// The `rollout` audit entries of `version`, as "step: detail".
    func rolloutDecisions(_ fleet: LocalFleet, _ version: Version) async throws -> [String] {
        let log = try await fleet.benctl(["log", "--json"])
        return try log.stdout.split(separator: "\n").compactMap { line in
            let entry = try JSONParser.parse(String(line))
            guard entry["kind"]?.stringValue == "rollout", entry["detail"]?["version"]?.intValue == Int64(version.rawValue) else { return nil }
            return "\(entry["detail"]?["step"]?.stringValue ?? "?"): \(entry["detail"]?["detail"]?.stringValue ?? "")"
        }
    }

    func status(_ fleet: LocalFleet, _ version: Version, nodes: [NodeID] = []) async throws -> DeploymentStatus {
        let outcome = try await fleet.benctl(["status", "\(version.rawValue)", "--json"] + (nodes.isEmpty ? [] : ["--nodes", nodes.map(\.rawValue).joined(separator: ",")]))
        guard !outcome.stdout.isEmpty else { throw LocalFleetError("status failed: \(outcome.stderr)") }
        return try DeploymentStatus(json: try JSONParser.parse(outcome.stdout))
    }

    // MARK: Waves

    @Test func canariesRefuseABadBundleAndTheRolloutAbortsBeforeWave2WithNoOtherNodeChangingVersion() async throws {
        let fleet = try await fleetOnV1()
        // The example intent plus a contract for detectors whose bytes are no artifact: every detector refuses it.
        let bad = try TemporaryDirectory()
        _ = try await BundleMaker.bundle(intent: repository + "/examples/intent", folder: bad.file("bundle"), payloadBytes: 4096, chunkSize: 64 << 10, payloadRoles: [.detector])
        let v2 = try await stageAgain(fleet, bad.file("bundle"))

        let deploy = try await fleet.benctl([
            "deploy", "\(v2.rawValue)", "--wave", "name=canary,roles=detector,bake=1s", "--wave", "name=rest", "--wait", "--timeout", "60",
        ])
        #expect(deploy.status == 2, "aborted: \(deploy.stdout)\(deploy.stderr)")
        let status = try await status(fleet, v2)
        #expect(status.status == "aborted")
        #expect(status.rollout?.waves.map(\.state) == ["failed", "pending"], "\(String(describing: status.rollout))")
        #expect(status.rollout?.reason?.hasPrefix("wave 1 (canary) failed its gates: 2 refused, more than max_refusals 0") == true, "\(String(describing: status.rollout?.reason))")
        let refused = status.missing.filter { $0.reason.code == .refused }.map(\.node).sorted()
        #expect(refused == ["node-1", "node-4"], "\(status.missing)")
        let spared = status.missing.filter { $0.reason.code == .aborted }.map(\.node).sorted()
        #expect(spared == ["node-2", "node-3", "node-5", "node-6"], "\(status.missing)")
        for node in fleet.nodes {
            let state = try #require(fleet.agentState(node.id))
            #expect(state.active == 1, "\(node.id) still runs v1")
            if !node.roles.contains(.detector) {
                #expect(state.highestAccepted == 1, "\(node.id) never saw v2")
                #expect(!fleet.agentLog(node.id).contains("announcement of v2"), "\(node.id) never saw v2")
            }
        }
        let decisions = try await rolloutDecisions(fleet, v2)
        #expect(decisions.contains { $0.hasPrefix("abort: wave 1 (canary) failed its gates") }, "\(decisions)")
        #expect(!decisions.contains { $0.hasPrefix("wave:") }, "wave 2 never started: \(decisions)")
        #expect(try await fleet.benctl(["log", "--verify"]).status == 0)
    }

    @Test func aPausedRolloutHoldsWave2UntilResumedAndThenFinishes() async throws {
        let fleet = try await fleetOnV1()
        let v2 = try await stageAgain(fleet)
        let deploy = try await fleet.benctl(["deploy", "\(v2.rawValue)", "--wave", "name=canary,nodes=node-2,bake=5s", "--wave", "name=rest", "--timeout", "60"])
        #expect(deploy.status == 0, "\(deploy.stderr)")
        let paused = try await fleet.benctl(["rollout", "pause", "\(v2.rawValue)"])
        #expect(paused.status == 0, "\(paused.stderr)")
        #expect(paused.stdout.contains("paused"), "\(paused.stdout)")
        try await fleet.waitUntil(timeout: .seconds(90), "the canary passed and the rollout holds") {
            (try? await status(fleet, v2))?.rollout?.step == "holding"
        }
        for node in fleet.nodes where node.id != "node-2" {
            #expect(fleet.agentState(node.id)?.highestAccepted == 1, "\(node.id) has not seen v2 while paused")
        }
        #expect(fleet.agentState("node-2")?.active == v2)

        // Watchers started while the rollout holds see the resume's changes: on a terminal the block is redrawn in
        // place (the cursor goes back over the last drawing and clears it); with --json, one object per change.
        // The resume waits until both have drawn the held rollout once (their first line).
        let drawn = Drawings()
        async let onTerminal = fleet.benctlOnTerminal(["status", "\(v2.rawValue)", "--watch"], whenOutputShows: "\n") { drawn.one() }
        async let streamed = fleet.benctl(["status", "\(v2.rawValue)", "--watch", "--json"], whenOutputShows: "\n") { drawn.one() }
        try await fleet.waitUntil(timeout: .seconds(60), "both watchers drew the held rollout") { drawn.count == 2 }
        let resumed = try await fleet.benctl(["rollout", "resume", "\(v2.rawValue)"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let terminal = try await onTerminal
        #expect(terminal.status == 0, "\(terminal.stdout)\(terminal.stderr)")
        #expect(terminal.stdout.contains("F\u{1B}[J"), "no redraw in place: \(terminal.stdout.debugDescription)")
        #expect(terminal.stdout.contains("waves"), "\(terminal.stdout)")
        let objects = try await streamed.stdout.split(separator: "\n").map { try JSONParser.parse(String($0)) }
        #expect(objects.count >= 2, "one object per change: \(objects.count)")
        #expect(objects.first?["status"]?.stringValue == "deploying" && objects.first?["rollout"]?["step"]?.stringValue == "holding", "\(objects.first.map { "\($0)" } ?? "none")")
        #expect(objects.last?["status"]?.stringValue == "active")
        let watched = try await fleet.benctl(["status", "\(v2.rawValue)", "--watch"])
        #expect(watched.status == 0, "\(watched.stdout)\(watched.stderr)")
        // Not a terminal: one line per change, no escape codes, ending active.
        #expect(!watched.stdout.contains("\u{1B}"))
        #expect(watched.stdout.split(separator: "\n").last?.hasPrefix("v2 active: 6/6 active") == true, "\(watched.stdout)")
        for node in fleet.nodes { #expect(fleet.agentState(node.id)?.active == v2, "\(node.id)") }
        // The canary may be proven before or after the pause; it passes its gates, then holds, until resumed.
        let steps = try await rolloutDecisions(fleet, v2).map { String($0.prefix { $0 != ":" }) }
        let order = ["pause", "passed", "holding", "resume", "wave"].map { steps.firstIndex(of: $0) ?? -1 }
        #expect(order.allSatisfy { $0 >= 0 } && order == order.sorted(), "\(steps)")
    }

    @Test func aNoisyDetectionRuleTripsTheAlertGateDuringTheCanaryBakeAndTheCanaryIsRolledBack() async throws {
        let fleet = try await fleetOnV1()
        // v2: the example intent plus a detection rule that fires on every successful sign-in.
        let folder = try TemporaryDirectory()
        let intent = folder.file("intent")
        try FileManager.default.copyItem(atPath: repository + "/examples/intent", toPath: intent)
        let rules = intent + "/detectors/auth.yaml"
        let noisy = "  - name: every_sign_in\n    when: event.success\n    severity: info\n    message: a sign-in succeeded\n"
        try (String(contentsOfFile: rules, encoding: .utf8) + noisy).write(toFile: rules, atomically: true, encoding: .utf8)
        let v2 = try await stageAgain(fleet, intent)
        let deploy = try await fleet.benctl([
            "deploy", "\(v2.rawValue)", "--wave", "name=canary,nodes=node-1,bake=10m,max-alerts=0", "--wave", "name=rest", "--on-failure",
            "rollback", "--timeout", "60",
        ])
        #expect(deploy.status == 0, "\(deploy.stderr)")
        try await fleet.waitUntil(timeout: .seconds(90), "the canary bakes") { (try? await status(fleet, v2))?.rollout?.step == "baking" }

        // An ordinary sign-in (no alert under v1) reaches the canary detector: v2 raises one; its heartbeat says so.
        let login = repository + "/examples/requests/detector-login-ordinary.json"
        let v1Eval = try await fleet.benctl(["eval", "--node", "node-4", "--role", "detector", "--input", login])
        #expect(v1Eval.stdout.contains("serving v1") && v1Eval.stdout.contains("alerts: 0"), "node-4 on v1: \(v1Eval.stdout)\(v1Eval.stderr)")
        let eval = try await fleet.benctl(["eval", "--node", "node-1", "--role", "detector", "--input", login])
        #expect(eval.stdout.contains("serving v\(v2.rawValue)") && eval.stdout.contains("alerts: 1"), "\(eval.stdout)\(eval.stderr)")
        try await fleet.waitUntil(timeout: .seconds(30), "the alert gate aborts the rollout") { (try? await status(fleet, v2))?.status == "aborted" }
        let aborted = try await status(fleet, v2)
        #expect(aborted.rollout?.reason?.contains("1 alert from the version's own detectors during the bake, more than max_alerts 0 (node-1: 1)") == true, "\(String(describing: aborted.rollout?.reason))")
        let rollback = try #require(aborted.rollout?.rollback)
        try await fleet.waitUntil(timeout: .seconds(90), "the rollback is active") { (try? await status(fleet, rollback))?.status == "active" }
        #expect(fleet.agentState("node-1")?.active == rollback)
        // The others stay on v1 and were never told of v2 (the rollback's announcement reaches them, not targeted).
        for node in fleet.nodes where node.id != "node-1" {
            #expect(fleet.agentState(node.id)?.active == 1, "\(node.id) stays on v1")
            #expect(!fleet.agentLog(node.id).contains("announcement of v\(v2.rawValue)"), "\(node.id) never saw v2")
        }
        let decisions = try await rolloutDecisions(fleet, v2)
        #expect(decisions.contains { $0.hasPrefix("abort: wave 1 (canary) failed its gates during its bake") }, "\(decisions)")
    }

    @Test func anAbortMidWaveStopsTheRolloutAndRollsTheCanaryBackAsANewVersion() async throws {
        let fleet = try await fleetOnV1()
        let v2 = try await stageAgain(fleet)
        let deploy = try await fleet.benctl([
            "deploy", "\(v2.rawValue)", "--wave", "name=canary,nodes=node-5,bake=10m", "--wave", "name=rest", "--on-failure", "rollback",
            "--timeout", "60",
        ])
        #expect(deploy.status == 0, "\(deploy.stderr)")
        try await fleet.waitUntil(timeout: .seconds(90), "the canary bakes") { (try? await status(fleet, v2))?.rollout?.step == "baking" }
        #expect(fleet.agentState("node-5")?.active == v2)

        let abort = try await fleet.benctl(["rollout", "abort", "\(v2.rawValue)", "--json"])
        #expect(abort.status == 0, "\(abort.stderr)")
        #expect(try JSONParser.parse(abort.stdout)["status"]?.stringValue == "aborted")
        // The rollback is v3, v1's content, to the canary only; it becomes active with the canary's signed ack.
        try await fleet.waitUntil(timeout: .seconds(90), "the rollback is active") { (try? await status(fleet, 3))?.status == "active" }
        let rollback = try await status(fleet, 3)
        #expect(rollback.required == 1 && rollback.label.hasPrefix("automatic rollback of v2"), "\(rollback.label)")
        #expect(rollback.manifest == (try await status(fleet, 1)).manifest)
        #expect(try await status(fleet, v2).rollout?.rollback == 3)
        #expect(fleet.agentState("node-5")?.active == 3)
        for node in fleet.nodes where node.id != "node-5" {
            #expect(fleet.agentState(node.id)?.active == 1, "\(node.id) stays on v1")
            #expect(!fleet.agentLog(node.id).contains("announcement of v2"), "\(node.id) never saw v2")
        }
        let decisions = try await rolloutDecisions(fleet, v2)
        #expect(decisions.contains("abort: aborted by the operator"), "\(decisions)")
        #expect(decisions.contains { $0.hasPrefix("rollback: 1 node it reached gets v1's content") }, "\(decisions)")
    }

    // MARK: Two-phase

    @Test func twoPhaseWithANodeKilledBetweenPrepareAndActivateNamesItAndTheRestSwapAtTheBarrier() async throws {
        let fleet = try await fleetOnV1()
        let v2 = try await stageAgain(fleet)
        let prepare = try await fleet.benctl(["deploy", "\(v2.rawValue)", "--prepare", "--wait", "--timeout", "60"])
        #expect(prepare.status == 0, "every node prepared: \(prepare.stdout)\(prepare.stderr)")
        let prepared = try await status(fleet, v2)
        #expect(prepared.rollout?.step == "prepared" && prepared.rollout?.waves.first?.prepared == 6, "\(String(describing: prepared.rollout))")
        for node in fleet.nodes { #expect(fleet.agentState(node.id)?.active == 1, "\(node.id) still serves v1 once prepared") }

        let victim: NodeID = "node-3"
        await fleet.stopAgent(victim, signal: SIGKILL)
        let activate = try await fleet.benctl(["activate", "\(v2.rawValue)", "--wait"])
        #expect(activate.status == 2, "incomplete: \(activate.stdout)\(activate.stderr)")
        let others = fleet.nodes.map(\.id).filter { $0 != victim }
        let final = try await status(fleet, v2, nodes: fleet.nodes.map(\.id))
        #expect(final.status == "incomplete")
        #expect(final.missing.map(\.node) == [victim])
        #expect(final.missing.first?.reason.code == .prepared, "\(final.missing)")
        #expect(fleet.agentState(victim)?.active == 1, "the killed node's durable state still says v1")
        // The activation moved no byte: the ledger's egress is what it was once everyone had prepared.
        #expect(final.ledgerEgress == prepared.ledgerEgress, "egress \(prepared.ledgerEgress) → \(final.ledgerEgress)")
        // Everyone else swapped when its clock read the one barrier, not before, and said so signed.
        let barrier = try #require(final.rollout?.barrier)
        for node in others {
            #expect(fleet.agentState(node)?.active == v2, "\(node)")
            let answer = try #require(final.answers.first { $0.node == node })
            #expect(answer.status == "active" && (answer.at ?? barrier) >= barrier, "\(node): \(answer)")
            #expect(fleet.agentLog(node).contains("barrier=\(barrier.rfc3339)"), "\(node) swapped at the barrier")
        }
        #expect(final.rollout?.activationSpread != nil)
    }
}

/// How many watchers have drawn their first line.
private final class Drawings: Sendable {
    private let drawn = Atomic<Int>(0)
    func one() { drawn.add(1, ordering: .relaxed) }
    var count: Int { drawn.load(ordering: .relaxed) }
}
