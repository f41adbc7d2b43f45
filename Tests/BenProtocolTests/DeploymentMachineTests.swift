import BenCore
import BenProtocol
import BenTestKit
import Testing

@Suite struct DeploymentMachineTests {
    static let fleet = FleetName("demo")!
    static let t0 = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
    static let m1 = Key(digest: [UInt8](repeating: 1, count: 32))
    static let m2 = Key(digest: [UInt8](repeating: 2, count: 32))
    static let planKey = Key(digest: [UInt8](repeating: 9, count: 32))

    static func plan(_ version: Version, nodes: Int = 4) -> Plan {
        TestPlans.striped(fleet: fleet, version: version, nodes: nodes, stripes: 1, fanOut: 2)
    }

    static func ack(_ node: String, _ version: Version, manifest: Key = m1, status: Ack.Status = .active, reason: String = "", at: Duration = .seconds(1)) -> Ack {
        Ack(fleet: fleet, version: version, node: NodeID(node)!, manifest: manifest, status: status, reason: reason, at: t0 + at)
    }

    static func deployed(nodes: Int = 4) -> DeploymentMachine {
        var machine = DeploymentMachine(fleet: fleet)
        _ = machine.onStage(manifest: m1, manifestSize: 300, size: 1000, label: "intent", now: t0)
        _ = try! machine.onDeploy(1, plan: plan(1, nodes: nodes), planKey: planKey, ledgerAddress: "127.0.0.1:7400", timeout: .seconds(60), supersede: false, now: t0).get()
        return machine
    }

    @Test func stagingTheSameContentTwiceReturnsTheSameVersionUnlessANewOneIsForced() {
        var machine = DeploymentMachine(fleet: Self.fleet)
        let first = machine.onStage(manifest: Self.m1, manifestSize: 300, size: 1000, label: "a", now: Self.t0)
        let again = machine.onStage(manifest: Self.m1, manifestSize: 300, size: 1000, label: "a", now: Self.t0)
        let forced = machine.onStage(manifest: Self.m1, manifestSize: 300, size: 1000, label: "rollback", forceNew: true, now: Self.t0)
        #expect(first.version == 1 && first.isNew)
        #expect(again.version == 1 && !again.isNew && again.actions.isEmpty)
        #expect(forced.version == 2 && forced.isNew)
    }

    @Test func deployAnnouncesSeedsAndArmsTheDeadline() throws {
        var machine = DeploymentMachine(fleet: Self.fleet)
        _ = machine.onStage(manifest: Self.m1, manifestSize: 300, size: 1000, label: "a", now: Self.t0)
        let actions = try machine.onDeploy(
            1, plan: Self.plan(1), planKey: Self.planKey, ledgerAddress: "127.0.0.1:7400", timeout: .seconds(60), supersede: false, now: Self.t0
        ).get()
        #expect(machine.versions[1]?.status == .deploying)
        let announcement = try #require(actions.compactMap { if case .publishAnnouncement(let a) = $0 { a } else { nil } }.first)
        #expect(announcement.version == 1 && announcement.manifest == Self.m1 && announcement.plan == Self.planKey)
        #expect(announcement.deadline == Self.t0 + .seconds(60))
        #expect(actions.contains(.armDeadline(1, at: Self.t0 + .seconds(60))))
        #expect(actions.contains(.startSeeding(1, plan: Self.planKey)))
        // The transition is persisted before the announcement goes out.
        let persist = actions.firstIndex { if case .persist = $0 { true } else { false } }!
        let publish = actions.firstIndex { if case .publishAnnouncement = $0 { true } else { false } }!
        #expect(persist < publish)
    }

    @Test func oneRolloutAtATimeUnlessSupersededExplicitly() {
        var machine = Self.deployed()
        _ = machine.onStage(manifest: Self.m2, manifestSize: 300, size: 1000, label: "b", now: Self.t0)
        let refused = machine.onDeploy(2, plan: Self.plan(2), planKey: Self.planKey, ledgerAddress: "127.0.0.1:7400", timeout: nil, supersede: false, now: Self.t0)
        #expect(refused == .failure(.rolloutInProgress(1)))
        let superseding = machine.onDeploy(2, plan: Self.plan(2), planKey: Self.planKey, ledgerAddress: "127.0.0.1:7400", timeout: nil, supersede: true, now: Self.t0)
        #expect((try? superseding.get()) != nil)
        #expect(machine.versions[1]?.status == .superseded)
        #expect(machine.versions[2]?.status == .deploying)
    }

    @Test func aVersionBecomesActiveOnlyWithAnActiveAckFromEveryRequiredNode() {
        var machine = Self.deployed()
        _ = machine.onAcks([Self.ack("n0", 1), Self.ack("n1", 1), Self.ack("n2", 1)], now: Self.t0)
        #expect(machine.versions[1]?.status == .deploying)
        let actions = machine.onAcks([Self.ack("n3", 1)], now: Self.t0)
        #expect(machine.versions[1]?.status == .active)
        #expect(actions.contains(.stopSeeding(1)))
    }

    @Test(arguments: [
        (ack("n3", 1, manifest: m2), "for manifest"),
        (ack("n3", 7), "no deployment of v7"),
        (ack("intruder", 1), "not a target"),
        (Ack(fleet: FleetName("other")!, version: 1, node: "n3", manifest: m1, status: .active, reason: "", at: t0), "for fleet other"),
    ])
    func acksThatDoNotMatchTheDeploymentAreRejectedAndDoNotCount(bad: Ack, reason: String) {
        var machine = Self.deployed()
        _ = machine.onAcks([Self.ack("n0", 1), Self.ack("n1", 1), Self.ack("n2", 1)], now: Self.t0)
        let actions = machine.onAcks([bad], now: Self.t0)
        #expect(machine.versions[1]?.status == .deploying)
        #expect(actions.contains { if case .report(.ackRejected(_, _, let r)) = $0 { r.contains(reason) } else { false } })
    }

    @Test func duplicateAcksAreHarmless() {
        var machine = Self.deployed()
        let acks = [Self.ack("n0", 1), Self.ack("n1", 1)]
        let first = machine.onAcks(acks, now: Self.t0)
        let second = machine.onAcks(acks + acks, now: Self.t0)
        #expect(first.filter { if case .recordAck = $0 { true } else { false } }.count == 2)
        #expect(second.isEmpty)
        #expect(machine.versions[1]?.deployment?.activeCount == 2)
    }

    @Test func theDeadlineMakesItIncompleteNamingEveryMissingNodeAndWhy() {
        var machine = Self.deployed(nodes: 5)
        let answers = AckSketch(
            """
            n0 active
            n1 active
            n2 refused: compile: bad rule
            n3 unreachable: connection refused
            n4 -
            """, fleet: Self.fleet, version: 1, manifest: Self.m1, at: Self.t0 + .seconds(1))
        _ = machine.onAcks(answers.acks, now: Self.t0)
        _ = machine.onMissingReports(1, answers.reports)
        #expect(machine.onDeadline(1, now: Self.t0 + .seconds(30)) == [.armDeadline(1, at: Self.t0 + .seconds(60))], "early timers re-arm")
        _ = machine.onDeadline(1, now: Self.t0 + .seconds(60))
        let record = machine.versions[1]!
        #expect(record.status == .incomplete)
        let missing = record.deployment!.missing
        #expect(Set(missing.keys) == ["n2", "n3", "n4"])
        #expect(missing["n2"] == MissingReason(.refused, "compile: bad rule"))
        #expect(missing["n3"]?.code == .unreachable)
        #expect(missing["n4"]?.code == .timeout)
    }

    @Test func retryReannouncesKeepsHeldAcksAndFinishesWhenTheRestArrive() throws {
        var machine = Self.deployed()
        _ = machine.onAcks([Self.ack("n0", 1), Self.ack("n1", 1)], now: Self.t0)
        _ = machine.onDeadline(1, now: Self.t0 + .seconds(60))
        let later = Self.t0 + .seconds(100)
        let missing = TestPlans.striped(fleet: Self.fleet, version: 1, nodes: 2, stripes: 1, fanOut: 2, names: ["n2", "n3"])
        let actions = try machine.onRetry(1, plan: missing, planKey: Self.planKey, ledgerAddress: "127.0.0.1:7400", timeout: .seconds(60), now: later).get()
        let again = try #require(actions.compactMap { if case .publishAnnouncement(let a) = $0 { a } else { nil } }.first)
        #expect(again.issuedAt == later && again.deadline == later + .seconds(60) && again.version == 1)
        #expect(machine.versions[1]?.status == .deploying)
        _ = machine.onAcks([Self.ack("n2", 1, at: .seconds(101)), Self.ack("n3", 1, at: .seconds(101))], now: later)
        #expect(machine.versions[1]?.status == .active)
    }

    @Test func aLateAckMakesAnIncompleteVersionActiveAndTheAuditSaysHowLate() throws {
        var machine = Self.deployed()
        _ = machine.onAcks([Self.ack("n0", 1), Self.ack("n1", 1)], now: Self.t0)
        _ = machine.onDeadline(1, now: Self.t0 + .seconds(60))
        #expect(machine.versions[1]?.status == .incomplete)
        _ = machine.onAcks([Self.ack("n2", 1)], now: Self.t0 + .seconds(61))
        #expect(machine.versions[1]?.status == .incomplete, "one node is still missing")
        let actions = machine.onAcks([Self.ack("n3", 1)], now: Self.t0 + .milliseconds(62_400))
        #expect(machine.versions[1]?.status == .active)
        #expect(
            actions.contains { action in
                if case .audit(.transition(1, from: .incomplete, to: .active, let detail)) = action { detail.contains("2.4 s after the deadline") } else { false }
            }, "\(actions)")
        #expect(actions.contains(.stopSeeding(1)), "the store kept serving late pullers until now")
    }

    @Test func aLateAckForASupersededVersionIsRecordedButChangesNothing() throws {
        var machine = Self.deployed()
        _ = machine.onDeadline(1, now: Self.t0 + .seconds(60))
        _ = machine.onStage(manifest: Self.m2, manifestSize: 300, size: 1000, label: "b", now: Self.t0)
        _ = try machine.onDeploy(2, plan: Self.plan(2), planKey: Self.planKey, ledgerAddress: "x:1", timeout: nil, supersede: false, now: Self.t0 + .seconds(61)).get()
        _ = machine.onAcks((0..<4).map { Self.ack("n\($0)", 2, manifest: Self.m2) }, now: Self.t0 + .seconds(62))
        #expect(machine.versions[1]?.status == .superseded)
        let actions = machine.onAcks((0..<4).map { Self.ack("n\($0)", 1) }, now: Self.t0 + .seconds(63))
        #expect(actions.filter { if case .recordAck = $0 { true } else { false } }.count == 4, "verified acks are kept")
        #expect(machine.versions[1]?.status == .superseded)
    }

    @Test func retryTargetsEveryNodeWithoutAnActiveAckAndAsksThemByName() throws {
        var machine = Self.deployed()
        _ = machine.onAcks([Self.ack("n0", 1), Self.ack("n1", 1, status: .refused, reason: "compile: bad rule")], now: Self.t0)
        _ = machine.onDeadline(1, now: Self.t0 + .seconds(60))
        #expect(machine.retryTargets(1) == ["n1", "n2", "n3"], "refused and silent nodes alike; n0 is done")
        let retryPlan = TestPlans.striped(fleet: Self.fleet, version: 1, nodes: 3, stripes: 1, fanOut: 2, names: ["n1", "n2", "n3"])
        let actions = try machine.onRetry(1, plan: retryPlan, planKey: Self.planKey, ledgerAddress: "x:1", timeout: .seconds(60), now: Self.t0 + .seconds(70)).get()
        #expect(actions.contains(.askForAnswers(1, nodes: ["n1", "n2", "n3"])))
        let widened = TestPlans.striped(fleet: Self.fleet, version: 1, nodes: 4, stripes: 1, fanOut: 2)
        _ = machine.onDeadline(1, now: Self.t0 + .seconds(200))
        #expect(machine.onRetry(1, plan: widened, planKey: Self.planKey, ledgerAddress: "x:1", timeout: nil, now: Self.t0 + .seconds(201)) == .failure(.planMismatch),
            "a retry plan never adds a node that is not missing")
    }

    @Test func withoutATimeoutTheDeadlineFollowsThePlan() throws {
        var machine = DeploymentMachine(fleet: Self.fleet)
        _ = machine.onStage(manifest: Self.m1, manifestSize: 300, size: 200_000_000, label: "a", now: Self.t0)
        let estimate = DeploymentMachine.PlanEstimate(transfer: .seconds(20), depth: 4)
        let actions = try machine.onDeploy(1, plan: Self.plan(1), planKey: Self.planKey, ledgerAddress: "x:1", timeout: nil, estimate: estimate, supersede: false, now: Self.t0).get()
        let announcement = try #require(actions.compactMap { if case .publishAnnouncement(let a) = $0 { a } else { nil } }.first)
        // margin 10 s + 3 × 20 s + (1 s + 200 MB × 50 ms) + 4 levels × 1 s
        #expect(announcement.deadline == Self.t0 + .seconds(10 + 60 + 11 + 4))
    }

    @Test func aNewerActiveVersionSupersedesTheOlderOnesAndOldVersionsCannotBeRedeployed() throws {
        var machine = Self.deployed()
        _ = machine.onAcks((0..<4).map { Self.ack("n\($0)", 1) }, now: Self.t0)
        _ = machine.onStage(manifest: Self.m2, manifestSize: 300, size: 1000, label: "b", now: Self.t0)
        _ = try machine.onDeploy(2, plan: Self.plan(2), planKey: Self.planKey, ledgerAddress: "127.0.0.1:7400", timeout: nil, supersede: false, now: Self.t0).get()
        _ = machine.onAcks((0..<4).map { Self.ack("n\($0)", 2, manifest: Self.m2) }, now: Self.t0)
        #expect(machine.versions[2]?.status == .active)
        #expect(machine.versions[1]?.status == .superseded)
        // Rolling back is a new version carrying v1's content.
        let rollback = machine.onStage(manifest: Self.m1, manifestSize: 300, size: 1000, label: "rollback to v1", forceNew: true, now: Self.t0)
        #expect(rollback.version == 3)
        #expect(machine.onDeploy(1, plan: Self.plan(1), planKey: Self.planKey, ledgerAddress: "x:1", timeout: nil, supersede: false, now: Self.t0)
            == .failure(.notStaged(1, .superseded)))
    }

    @Test func afterARestartADeadlineThatPassedIsAppliedAndALiveOneIsReArmed() {
        let machine = Self.deployed()
        var restored = DeploymentMachine(fleet: Self.fleet, versions: Array(machine.versions.values))
        let live = restored.onRestart(now: Self.t0 + .seconds(10))
        #expect(live.contains(.armDeadline(1, at: Self.t0 + .seconds(60))))
        #expect(live.contains(.startSeeding(1, plan: Self.planKey)))
        var late = DeploymentMachine(fleet: Self.fleet, versions: Array(machine.versions.values))
        _ = late.onRestart(now: Self.t0 + .seconds(61))
        #expect(late.versions[1]?.status == .incomplete)
    }
}
