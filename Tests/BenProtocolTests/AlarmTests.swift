import BenCore
import BenCrypto
import BenProtocol
import BenTestKit
import Testing

/// The ledger's alarms on the agent machine (issue 16): "stop version V" drops a prepared V and keeps any activation
/// of V from being taken, and never touches the version a node runs; and the revocations a process takes.
@Suite struct AlarmTests {
    static let plan = TestPlans.striped(nodes: 12, stripes: 2, fanOut: 3)

    func prepared() -> FleetHarness {
        let fleet = FleetHarness(plan: Self.plan, twoPhase: true)
        fleet.deploy(limit: .seconds(30))
        return fleet
    }

    static func alarm(_ version: Version = 1, fleet: FleetName = plan.fleet, epoch: UInt64 = 0, at: Timestamp) -> Alarm {
        Alarm(fleet: fleet, epoch: epoch, version: version, reason: "aborted by the operator", issuedAt: at)
    }

    /// A prepared node that took the activation and waits for its barrier: the alarm drops the compiled copy and the
    /// barrier, and an activation of the same version afterwards is refused with a reason.
    @Test func anAlarmDropsAPreparedVersionAndNoLaterActivationSwapsIt() throws {
        let fleet = prepared()
        var agent = try #require(fleet.agents["n3"])
        let activation = Activation(fleet: Self.plan.fleet, version: 1, manifest: fleet.manifestKey, barrier: fleet.now + .seconds(5), issuedAt: fleet.now)
        let accepted = agent.onActivation(IncomingActivation(activation, signature: .valid), now: fleet.now)
        #expect(accepted.contains { if case .armTimer(.barrier(1), _) = $0 { true } else { false } })
        let stopped = agent.onAlarm(IncomingAlarm(Self.alarm(at: fleet.now), signature: .valid), now: fleet.now)
        #expect(stopped.contains(.discardCompiled(1)), "\(stopped)")
        #expect(stopped.contains(.cancelTimer(.barrier(1))), "\(stopped)")
        #expect(stopped.contains(.report(.alarmTaken(1, reason: "aborted by the operator", discarded: true))))
        #expect(agent.current?.phase == .stopped("aborted by the operator"))
        #expect(agent.onAlarm(IncomingAlarm(Self.alarm(at: fleet.now), signature: .valid), now: fleet.now).isEmpty, "heard twice, acted on once")
        // The barrier timer fires anyway (it raced the cancel): nothing swaps.
        let fired = agent.handle(.timer(.barrier(1)), now: fleet.now + .seconds(5))
        #expect(!fired.contains(.activate(1)), "\(fired)")
        let again = agent.onActivation(IncomingActivation(activation, signature: .valid), now: fleet.now + .seconds(6))
        #expect(again == [.report(.activationIgnored(1, reason: "an alarm from the ledger stopped v1"))], "\(again)")
        #expect(agent.activeVersion == .none)
    }

    /// An alarm heard while the node still receives the version: nothing is dropped yet, but the version is stopped,
    /// so what it compiles later is never swapped in.
    @Test func anAlarmHeardWhileReceivingStopsTheVersion() {
        let now = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
        var agent = AgentMachine(
            node: "n4", fleet: Self.plan.fleet, record: AgentRecord(active: nil, highestAccepted: .none), signer: KeySigner(key: SigningKey.generate()))
        let announcement = Announcement(
            fleet: Self.plan.fleet, version: 1, manifest: Key(digest: [UInt8](repeating: 5, count: 32)), manifestSize: 300,
            plan: Key(digest: [UInt8](repeating: 6, count: 32)), topology: Self.plan.topology, issuedAt: now, deadline: now + .seconds(60),
            expires: now + .seconds(600), ledger: "127.0.0.1:7400")
        let accepted = agent.onAnnouncement(IncomingAnnouncement(announcement: announcement, envelope: [], signature: .valid), local: nil, now: now)
        #expect(accepted.contains(.report(.announcementAccepted(1))))
        #expect(agent.current?.phase == .receiving)
        let actions = agent.onAlarm(IncomingAlarm(Self.alarm(at: now), signature: .valid), now: now)
        #expect(actions == [.report(.alarmTaken(1, reason: "aborted by the operator", discarded: false))], "\(actions)")
        #expect(agent.stopped == [1])
        #expect(!agent.alarmMatters(Self.alarm(at: now)), "read back from the stream again, a stopped version's alarm changes nothing")
    }

    /// Of the alarms the stream keeps, only those for a version newer than the running one, not yet stopped, are
    /// handed in on catch-up.
    @Test func onlyAlarmsForNewerVersionsNotYetStoppedMatterOnCatchUp() {
        let now = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
        let running = AgentRecord(active: nil, highestAccepted: .none)
        var agent = AgentMachine(node: "n4", fleet: Self.plan.fleet, record: running, signer: KeySigner(key: SigningKey.generate()))
        var alarm = Self.alarm(at: now)
        #expect(agent.alarmMatters(alarm), "v1 may still reach a node that runs nothing")
        alarm.version = .none
        #expect(!agent.alarmMatters(alarm), "the version it runs (none) is never stopped")
        alarm.version = 2
        _ = agent.onAlarm(IncomingAlarm(alarm, signature: .valid), now: now)
        #expect(!agent.alarmMatters(alarm), "stopped already")
    }

    /// Every reason an alarm is not acted on: a bad signature, another fleet, an older epoch, and the version the node
    /// runs (a rollback, not an alarm, changes that).
    @Test(arguments: IgnoredCase.allCases)
    func anAlarmIsTakenOnlyWhenSignedForThisFleetAndEpochAndNeverForTheRunningVersion(_ c: IgnoredCase) throws {
        let fleet = prepared()
        var agent = try #require(fleet.agents["n5"])
        var alarm = Self.alarm(at: fleet.now)
        var signature = SignatureCheck.valid
        switch c {
        case .badSignature: signature = .invalid("signed by an unknown key 0123456789abcdef")
        case .otherFleet: alarm.fleet = FleetName("other")!
        case .staleEpoch:
            var record = agent.record
            record.highestEpoch = 5
            agent = AgentMachine(node: "n5", fleet: Self.plan.fleet, record: record, signer: KeySigner(key: fleet.nodeKeys["n5"]!))
            alarm.epoch = 4
        case .runningVersion:
            fleet.activate(barrier: fleet.now)
            agent = try #require(fleet.agents["n5"])
            #expect(agent.activeVersion == 1)
        }
        let actions = agent.onAlarm(IncomingAlarm(alarm, signature: signature), now: fleet.now)
        #expect(actions.count == 1, "\(c): \(actions)")
        #expect(actions.allSatisfy { if case .report(.alarmIgnored) = $0 { true } else { false } }, "\(c): \(actions)")
        #expect(agent.stopped.isEmpty)
    }

    enum IgnoredCase: CaseIterable, Sendable {
        case badSignature, otherFleet, staleEpoch, runningVersion
    }

    /// The ledger's deployment machine sends the alarm with an abort.
    @Test func anAbortedRolloutSendsAnAlarm() throws {
        var machine = DeploymentMachine(fleet: Self.plan.fleet, versions: [])
        let now = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
        let staged = machine.onStage(manifest: Key(digest: [UInt8](repeating: 1, count: 32)), manifestSize: 300, size: 1000, label: "", forceNew: false, now: now)
        let version = staged.version
        _ = machine.onDeploy(
            version, plan: Self.plan, planKey: Key(digest: [UInt8](repeating: 2, count: 32)), ledgerAddress: "127.0.0.1:7400", timeout: nil,
            estimate: .init(transfer: .seconds(1), depth: 1), leftOut: [:], supersede: false, now: now)
        let actions = try machine.onAbort(version, reason: "aborted by the operator", now: now).get()
        #expect(actions.contains(.publishAlarm(Alarm(fleet: Self.plan.fleet, version: version, reason: "aborted by the operator", issuedAt: now))))
    }

    /// A revocation is taken once, for this fleet and epoch, under a trusted signature; its key is refused whatever
    /// node the signer claims to be.
    @Test func aRevocationIsTakenOnceAndItsKeyIsRefused() {
        let at = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
        let keyID = "0123456789abcdef"
        let revocation = Revocation(fleet: Self.plan.fleet, epoch: 3, node: "n2", keyID: keyID, reason: "stolen", issuedAt: at)
        var list = RevocationList()
        #expect(list.admit(revocation, signature: .invalid("unknown signer"), fleet: Self.plan.fleet, highestEpoch: 0) != .added)
        var other = revocation
        other.fleet = FleetName("other")!
        #expect(list.admit(other, signature: .valid, fleet: Self.plan.fleet, highestEpoch: 0) != .added)
        #expect(list.admit(revocation, signature: .valid, fleet: Self.plan.fleet, highestEpoch: 4) != .added, "an older epoch is fenced off")
        #expect(list.refusal(keyID: keyID) == nil)
        #expect(list.admit(revocation, signature: .valid, fleet: Self.plan.fleet, highestEpoch: 3) == .added)
        #expect(list.admit(revocation, signature: .valid, fleet: Self.plan.fleet, highestEpoch: 3) == .known)
        #expect(list.refusal(keyID: keyID)?.contains("of n2 was revoked") == true)
        #expect(list.refusal(keyID: "fedcba9876543210") == nil)
        #expect(list.count == 1)
    }

    /// The documents read back exactly as signed, and refuse what they must.
    @Test func alarmsAndRevocationsReadStrictly() throws {
        let at = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
        let alarm = Self.alarm(3, epoch: 2, at: at)
        #expect(try Alarm.decode(alarm.canonicalBytes) == alarm)
        let revocation = Revocation(fleet: Self.plan.fleet, epoch: 2, node: "n2", keyID: "0123456789abcdef", reason: "stolen", issuedAt: at)
        #expect(try Revocation.decode(revocation.canonicalBytes) == revocation)
        #expect(throws: DocumentError.self) { try Revocation.decode(Array(revocation.canonicalString.replacingOccurrences(of: "0123456789abcdef", with: "XYZ").utf8)) }
        #expect(throws: DocumentError.self) { try Alarm.decode(Array(alarm.canonicalString.replacingOccurrences(of: "\"version\":3", with: "\"version\":0").utf8)) }
    }
}
