import BenCore
import BenProtocol
import BenTestKit
import Testing

/// The deployment machine's waves, gates and two-phase activation (issue 17, items 1 and 2), with a fake clock: v1
/// runs on n0…n3, then v2 rolls out in waves.
@Suite struct RolloutWaveTests {
    static let fleet = FleetName("demo")!
    static let t0 = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
    static let m1 = Key(digest: [UInt8](repeating: 1, count: 32))
    static let m2 = Key(digest: [UInt8](repeating: 2, count: 32))
    static let planKey = Key(digest: [UInt8](repeating: 9, count: 32))
    static let address = "127.0.0.1:7400"

    static func plan(_ version: Version, _ nodes: [NodeID]) -> Plan {
        TestPlans.striped(fleet: fleet, version: version, nodes: nodes.count, stripes: 1, fanOut: 2, names: nodes)
    }

    static func ack(_ node: NodeID, _ status: Ack.Status = .active, version: Version = 2, reason: String = "", at: Duration = .seconds(1)) -> Ack {
        Ack(fleet: fleet, version: version, node: node, manifest: version == 1 ? m1 : m2, status: status, reason: reason, at: t0 + at)
    }

    /// v1 active on n0…n3 and v2 staged.
    static func withV1Active() -> DeploymentMachine {
        var machine = DeploymentMachine(fleet: fleet)
        _ = machine.onStage(manifest: m1, manifestSize: 300, size: 1000, label: "v1", now: t0)
        _ = try! machine.onDeploy(1, plan: plan(1, ["n0", "n1", "n2", "n3"]), planKey: planKey, ledgerAddress: address, timeout: .seconds(60), supersede: false, now: t0).get()
        _ = machine.onAcks(["n0", "n1", "n2", "n3"].map { ack($0, version: 1) }, now: t0)
        _ = machine.onStage(manifest: m2, manifestSize: 300, size: 1000, label: "v2", now: t0)
        return machine
    }

    static func rollout(
        _ waves: [(String, [NodeID], Duration, RolloutPolicy.Gates)], activation: RolloutRecord.Activation = .onArrival,
        onFailure: RolloutPolicy.OnFailure = .stay
    ) -> RolloutRecord {
        RolloutRecord(
            activation: activation,
            waves: waves.enumerated().map { i, w in RolloutRecord.Wave(name: w.0, nodes: w.1, bake: w.2, gates: w.3, startedAt: i == 0 ? t0 : nil) },
            onFailure: onFailure, previous: 1)
    }

    /// canary n0 (bake 30 s), rest n1…n3.
    static let canaryThenRest = rollout([("canary", ["n0"], .seconds(30), .init()), ("rest", ["n1", "n2", "n3"], .zero, .init())])

    static func deploy(_ machine: inout DeploymentMachine, _ rollout: RolloutRecord, at t: Timestamp = t0) -> [DeploymentMachine.Action] {
        try! machine.onDeploy(
            2, plan: plan(2, rollout.waves[0].nodes), planKey: planKey, ledgerAddress: address, timeout: .seconds(60), supersede: false,
            rollout: rollout, now: t
        ).get()
    }

    static func audits(_ actions: [DeploymentMachine.Action]) -> [String] {
        actions.compactMap { if case .audit(.rollout(_, let step, _)) = $0 { step } else { nil } }
    }

    static func planWave(_ actions: [DeploymentMachine.Action]) -> (wave: Int, nodes: [NodeID])? {
        actions.compactMap { if case .planWave(2, let wave, let nodes) = $0 { (wave: wave, nodes: nodes) } else { nil } }.first
    }

    @Test func theNextWaveStartsOnlyOnceTheCanaryIsProvenAndBaked() throws {
        var machine = Self.withV1Active()
        let started = Self.deploy(&machine, Self.canaryThenRest)
        // The canary's announcement goes to the canary by name: the nodes of later waves never see v2 before their turn.
        #expect(!started.contains { if case .publishAnnouncement = $0 { true } else { false } })
        let announced = try #require(started.compactMap { if case .announceTo(let a, ["n0"]) = $0 { a } else { nil } }.first)
        #expect(!announced.twoPhase)
        #expect(machine.versions[2]?.deployment?.required == ["n0", "n1", "n2", "n3"], "every wave's nodes are required")
        #expect(machine.versions[2]?.deployment?.reachable == ["n0"], "only the canary may pull from the store")
        #expect(machine.versions[2]?.deployment?.missing["n2"]?.code == .pending)

        let proven = machine.onAcks([Self.ack("n0")], now: Self.t0 + .seconds(2))
        #expect(Self.audits(proven) == ["proven", "baking"])
        #expect(proven.contains(.armTimer(.bake(2), at: Self.t0 + .seconds(32))))
        #expect(Self.planWave(proven) == nil, "the canary bakes first")

        #expect(machine.onTimer(.bake(2), now: Self.t0 + .seconds(20)) == [.armTimer(.bake(2), at: Self.t0 + .seconds(32))], "a timer that fires early waits")
        let baked = machine.onTimer(.bake(2), now: Self.t0 + .seconds(32))
        #expect(Self.audits(baked) == ["passed", "wave"])
        let next = try #require(Self.planWave(baked))
        #expect(next.wave == 1 && next.nodes == ["n1", "n2", "n3"])
        #expect(machine.versions[2]?.deployment?.reachable == ["n0", "n1", "n2", "n3"])

        let planned = machine.onWavePlanned(
            2, wave: 1, plan: Self.plan(2, ["n1", "n2", "n3"]), planKey: Self.planKey, ledgerAddress: Self.address, estimate: .unknown, leftOut: [:],
            now: Self.t0 + .seconds(33))
        // The last wave is announced to the fleet (JetStream keeps it for nodes that come back later).
        let again = try #require(planned.compactMap { if case .publishAnnouncement(let a) = $0 { a } else { nil } }.first)
        #expect(again.version == 2 && again.issuedAt == Self.t0 + .seconds(33) && again.manifest == Self.m2)
        #expect(planned.contains(.stopSeeding(2)) && planned.contains(.startSeeding(2, plan: Self.planKey)))

        _ = machine.onAcks(["n1", "n2", "n3"].map { Self.ack($0, at: .seconds(40)) }, now: Self.t0 + .seconds(41))
        #expect(machine.versions[2]?.status == .active)
        #expect(machine.versions[2]?.deployment?.rollout?.step == .finished)
        #expect(machine.versions[1]?.status == .superseded)
    }

    @Test func aRefusingCanaryAbortsTheRolloutAndTheOtherWavesNeverStart() {
        var machine = Self.withV1Active()
        _ = Self.deploy(&machine, Self.canaryThenRest)
        let actions = machine.onAcks([Self.ack("n0", .refused, reason: "compile: policy/edge: unknown field")], now: Self.t0 + .seconds(2))
        #expect(machine.versions[2]?.status == .aborted)
        #expect(Self.planWave(actions) == nil)
        #expect(actions.contains(.stopSeeding(2)))
        #expect(Self.audits(actions).first == "abort")
        let missing = machine.versions[2]?.deployment?.missing ?? [:]
        #expect(missing["n0"]?.code == .refused)
        #expect(["n1", "n2", "n3"].allSatisfy { missing[$0]?.code == .aborted }, "\(missing)")
        #expect(missing["n1"]?.detail.contains("never received v2") == true)
        // Late acks change nothing, and no timer starts the next wave.
        #expect(machine.onTimer(.bake(2), now: Self.t0 + .seconds(60)).isEmpty)
        _ = machine.onAcks([Self.ack("n0")], now: Self.t0 + .seconds(61))
        #expect(machine.versions[2]?.status == .aborted)
    }

    @Test func aFailedGateWithRollbackAsksForTheReachedNodesThatRunTheVersion() {
        var machine = Self.withV1Active()
        let policy = Self.rollout(
            [("canary", ["n0", "n1"], .seconds(30), .init()), ("rest", ["n2", "n3"], .zero, .init())], onFailure: .rollback)
        _ = Self.deploy(&machine, policy)
        let actions = machine.onAcks([Self.ack("n0"), Self.ack("n1", .refused, reason: "compile: bad rule")], now: Self.t0 + .seconds(2))
        #expect(machine.versions[2]?.status == .aborted)
        #expect(actions.contains(.rollBack(2, to: 1, nodes: ["n0"])), "n1 refused, so it never left v1: \(actions)")
        _ = machine.handle(.rolledBack(2, as: 3), now: Self.t0 + .seconds(3))
        #expect(machine.versions[2]?.deployment?.rollout?.rollback == 3)
    }

    @Test func missingNodesWithinTheGateLetTheNextWaveStartAtTheDeadline() {
        var machine = Self.withV1Active()
        let policy = Self.rollout([("canary", ["n0", "n1"], .zero, .init(maxRefusals: 0, maxMissing: 1)), ("rest", ["n2", "n3"], .zero, .init())])
        _ = Self.deploy(&machine, policy)
        #expect(Self.planWave(machine.onAcks([Self.ack("n0")], now: Self.t0 + .seconds(2))) == nil, "n1 may still answer")
        let atDeadline = machine.onDeadline(2, now: Self.t0 + .seconds(60))
        #expect(Self.planWave(atDeadline)?.nodes == ["n2", "n3"], "\(atDeadline)")
        #expect(machine.versions[2]?.status == .deploying)
    }

    @Test func tooManyMissingAtTheDeadlineAbort() {
        var machine = Self.withV1Active()
        let policy = Self.rollout([("canary", ["n0", "n1"], .zero, .init(maxMissing: 0)), ("rest", ["n2", "n3"], .zero, .init())])
        _ = Self.deploy(&machine, policy)
        _ = machine.onAcks([Self.ack("n0")], now: Self.t0 + .seconds(2))
        _ = machine.onDeadline(2, now: Self.t0 + .seconds(60))
        #expect(machine.versions[2]?.status == .aborted)
        #expect(machine.versions[2]?.deployment?.rollout?.waves[0].failure?.hasPrefix("1 missing, more than max_missing 0 (n1: timeout") == true)
    }

    @Test func alertsOverTheGateDuringTheBakeAbortAtOnce() {
        var machine = Self.withV1Active()
        let policy = Self.rollout(
            [("canary", ["n0"], .seconds(30), .init(maxAlerts: 0)), ("rest", ["n1", "n2", "n3"], .zero, .init())], onFailure: .rollback)
        _ = Self.deploy(&machine, policy)
        _ = machine.onAcks([Self.ack("n0")], now: Self.t0 + .seconds(2))
        #expect(machine.onAlerts(2, node: "n2", count: 9, now: Self.t0 + .seconds(3)).isEmpty, "a node of a later wave does not count")
        let actions = machine.onAlerts(2, node: "n0", count: 2, now: Self.t0 + .seconds(5))
        #expect(machine.versions[2]?.status == .aborted)
        #expect(actions.contains(.rollBack(2, to: 1, nodes: ["n0"])))
        #expect(machine.versions[2]?.deployment?.rollout?.waves[0].failure?.contains("2 alerts from the version's own detectors") == true)
    }

    @Test func alertsWithinTheGateLetTheWavePass() {
        var machine = Self.withV1Active()
        let policy = Self.rollout([("canary", ["n0"], .seconds(30), .init(maxAlerts: 3)), ("rest", ["n1", "n2", "n3"], .zero, .init())])
        _ = Self.deploy(&machine, policy)
        _ = machine.onAcks([Self.ack("n0")], now: Self.t0 + .seconds(2))
        _ = machine.onAlerts(2, node: "n0", count: 3, now: Self.t0 + .seconds(5))
        #expect(Self.planWave(machine.onTimer(.bake(2), now: Self.t0 + .seconds(32))) != nil)
    }

    @Test func aPausedRolloutHoldsTheNextWaveUntilResumed() throws {
        var machine = Self.withV1Active()
        _ = Self.deploy(&machine, Self.canaryThenRest)
        let paused = try machine.onPause(2, now: Self.t0 + .seconds(1)).get()
        #expect(Self.audits(paused) == ["pause"])
        _ = machine.onAcks([Self.ack("n0")], now: Self.t0 + .seconds(2))
        let baked = machine.onTimer(.bake(2), now: Self.t0 + .seconds(32))
        #expect(Self.planWave(baked) == nil)
        #expect(Self.audits(baked) == ["passed", "holding"])
        #expect(machine.versions[2]?.deployment?.rollout?.step == .holding)
        let resumed = try machine.onResume(2, now: Self.t0 + .seconds(50)).get()
        #expect(Self.planWave(resumed)?.nodes == ["n1", "n2", "n3"])
    }

    @Test func theOperatorAbortsMidWaveAndControlsOnPlainDeploysAreRefused() throws {
        var machine = Self.withV1Active()
        _ = Self.deploy(&machine, Self.canaryThenRest)
        let aborted = try machine.onAbort(2, reason: "aborted by the operator", now: Self.t0 + .seconds(1)).get()
        #expect(aborted.contains(.stopSeeding(2)))
        #expect(machine.versions[2]?.status == .aborted)
        #expect(machine.onAbort(2, reason: "again", now: Self.t0 + .seconds(2)) == .failure(.notInProgress(2, .aborted)))

        var plain = DeploymentMachine(fleet: Self.fleet)
        _ = plain.onStage(manifest: Self.m1, manifestSize: 300, size: 1000, label: "v1", now: Self.t0)
        _ = try plain.onDeploy(1, plan: Self.plan(1, ["n0"]), planKey: Self.planKey, ledgerAddress: Self.address, timeout: nil, supersede: false, now: Self.t0).get()
        #expect(plain.onPause(1, now: Self.t0) == .failure(.noWaves(1)))
        #expect(plain.onActivate(1, lead: nil, partial: false, now: Self.t0) == .failure(.notTwoPhase(1)))
        #expect(plain.onAcks([Self.ack("n0", .prepared, version: 1)], now: Self.t0).contains { if case .report(.ackRejected) = $0 { true } else { false } })
    }

    // MARK: Two-phase

    @Test func twoPhaseActivatesOnceEveryNodePreparedAndIsActiveOnlyWithEveryActiveAck() throws {
        var machine = Self.withV1Active()
        let all: [NodeID] = ["n0", "n1", "n2", "n3"]
        let started = Self.deploy(&machine, Self.rollout([("all", all, .zero, .init())], activation: .automatic))
        #expect(started.contains { if case .publishAnnouncement(let a) = $0 { a.twoPhase } else { false } })
        #expect(machine.onAcks(all.prefix(3).map { Self.ack($0, .prepared) }, now: Self.t0 + .seconds(2)).allSatisfy {
            if case .publishActivation = $0 { false } else { true }
        })
        let prepared = machine.onAcks([Self.ack("n3", .prepared)], now: Self.t0 + .seconds(3))
        let activation = try #require(prepared.compactMap { if case .publishActivation(let a) = $0 { a } else { nil } }.first)
        #expect(activation.barrier == Self.t0 + .seconds(3) + machine.settings.activationLead)
        #expect(activation.manifest == Self.m2 && activation.version == 2)
        #expect(!prepared.contains { if case .startSeeding = $0 { true } else { false } }, "the activation moves no byte")
        #expect(machine.versions[2]?.status == .deploying, "prepared is not active")

        _ = machine.onAcks(all.map { Self.ack($0, at: .seconds(5)) }, now: Self.t0 + .seconds(6))
        #expect(machine.versions[2]?.status == .active)
    }

    @Test func aPreparedNodeWithoutAnActiveAckIsNamedAtTheActivationDeadline() throws {
        var machine = Self.withV1Active()
        let all: [NodeID] = ["n0", "n1", "n2", "n3"]
        _ = Self.deploy(&machine, Self.rollout([("all", all, .zero, .init())], activation: .manual))
        let prepared = machine.onAcks(all.map { Self.ack($0, .prepared) }, now: Self.t0 + .seconds(2))
        #expect(!prepared.contains { if case .publishActivation = $0 { true } else { false } }, "by hand: the operator activates")
        #expect(machine.versions[2]?.deployment?.rollout?.step == .prepared)
        let activated = try machine.onActivate(2, lead: .seconds(1), partial: false, now: Self.t0 + .seconds(10)).get()
        let barrier = Self.t0 + .seconds(11)
        #expect(activated.contains { if case .publishActivation(let a) = $0 { a.barrier == barrier } else { false } })
        _ = machine.onAcks(["n0", "n1", "n3"].map { Self.ack($0, at: .seconds(11)) }, now: Self.t0 + .seconds(12))
        #expect(machine.versions[2]?.status == .deploying)
        _ = machine.onDeadline(2, now: barrier + machine.settings.activationWindow)
        #expect(machine.versions[2]?.status == .incomplete)
        let missing = machine.versions[2]?.deployment?.missing ?? [:]
        #expect(missing.keys.sorted() == ["n2"])
        #expect(missing["n2"]?.code == .prepared, "\(missing)")
        // Sent again, the activation brings the straggler over, and its late ack makes v2 active.
        let again = try machine.onActivate(2, lead: nil, partial: false, now: Self.t0 + .seconds(40)).get()
        #expect(again.contains { if case .publishActivation = $0 { true } else { false } })
        _ = machine.onAcks([Self.ack("n2", at: .seconds(42))], now: Self.t0 + .seconds(43))
        #expect(machine.versions[2]?.status == .active)
    }

    @Test func activatingByHandBeforeEveryNodePreparedNeedsPartial() throws {
        var machine = Self.withV1Active()
        let all: [NodeID] = ["n0", "n1", "n2", "n3"]
        _ = Self.deploy(&machine, Self.rollout([("all", all, .zero, .init())], activation: .manual))
        _ = machine.onAcks(["n0", "n1"].map { Self.ack($0, .prepared) }, now: Self.t0 + .seconds(2))
        #expect(machine.onActivate(2, lead: nil, partial: false, now: Self.t0 + .seconds(3)) == .failure(.notPrepared(2, ["n2", "n3"])))
        let partial = try machine.onActivate(2, lead: nil, partial: true, now: Self.t0 + .seconds(3)).get()
        #expect(partial.contains { if case .publishActivation = $0 { true } else { false } })
    }

    @Test func aRefusalWhilePreparingMeansNobodySwaps() {
        var machine = Self.withV1Active()
        let all: [NodeID] = ["n0", "n1", "n2", "n3"]
        _ = Self.deploy(&machine, Self.rollout([("all", all, .zero, .init())], activation: .automatic))
        let actions = machine.onAcks(
            ["n0", "n1", "n2"].map { Self.ack($0, .prepared) } + [Self.ack("n3", .refused, reason: "compile: bad rule")], now: Self.t0 + .seconds(2))
        #expect(!actions.contains { if case .publishActivation = $0 { true } else { false } })
        #expect(machine.versions[2]?.status == .aborted)
    }

    @Test func aRestartedLedgerResumesTheBakeFromItsRecord() throws {
        var machine = Self.withV1Active()
        _ = Self.deploy(&machine, Self.canaryThenRest)
        _ = machine.onAcks([Self.ack("n0")], now: Self.t0 + .seconds(2))
        // The record survives as JSON (the ledger's `rollout` table).
        let stored = try #require(machine.versions[2]?.deployment?.rollout)
        #expect(try RolloutRecord(json: try JSONParser.parse(try CanonicalJSON.string(stored.json))) == stored)
        var restarted = DeploymentMachine(fleet: Self.fleet, versions: Array(machine.versions.values))
        let actions = restarted.onRestart(now: Self.t0 + .seconds(10))
        #expect(actions.contains(.armTimer(.bake(2), at: Self.t0 + .seconds(32))))
    }
}
