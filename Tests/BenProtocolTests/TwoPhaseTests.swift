import BenCore
import BenCrypto
import BenProtocol
import BenTestKit
import Testing

/// Two-phase activation on the agents (issue 17, item 1): prepare everywhere without swapping, then swap at the
/// ledger's signed barrier; the activation moves no bundle byte.
@Suite struct TwoPhaseTests {
    static let plan = TestPlans.striped(nodes: 12, stripes: 2, fanOut: 3)

    func prepared(_ faults: FleetHarness.Faults = .init()) -> FleetHarness {
        let fleet = FleetHarness(plan: Self.plan, faults: faults, twoPhase: true)
        fleet.deploy(limit: .seconds(30))
        return fleet
    }

    @Test func everyNodePreparesSignsPreparedAndKeepsServingItsOldVersion() {
        let fleet = prepared()
        #expect(fleet.activated.isEmpty, "nothing swaps before the activation: \(fleet.activated)")
        let acks = fleet.verifiedAcks
        #expect(acks.count == 12)
        #expect(acks.values.allSatisfy { $0.status == .prepared }, "\(acks.values.map(\.status))")
        for (node, agent) in fleet.agents {
            #expect(agent.current?.phase == .prepared, "\(node)")
            #expect(agent.activeVersion == .none, "\(node)")
        }
    }

    @Test func theActivationSwapsEveryPreparedNodeAtTheBarrierAndTheLedgerSendsNoByte() throws {
        let fleet = prepared()
        let ledgerFrames = fleet.ledgerChunkFramesSent
        let relayFrames = fleet.chunkFramesSent.values.reduce(0, +)
        let barrier = fleet.now + .seconds(2)
        fleet.activate(barrier: barrier)
        #expect(fleet.activated.count == 12)
        #expect(Set(fleet.completedAt.values) == [barrier], "every node swaps when its clock reads the barrier")
        #expect(fleet.ledgerChunkFramesSent == ledgerFrames, "the activation phase costs the ledger no chunk")
        #expect(fleet.chunkFramesSent.values.reduce(0, +) == relayFrames, "nor anyone else")
        let acks = fleet.verifiedAcks
        #expect(acks.values.allSatisfy { $0.status == .active && $0.at == barrier }, "\(acks.values.map { ($0.node, $0.status, $0.at) })")
        // Swapped, then durable, then the ack goes out: the same order as a one-phase swap.
        for (node, journal) in fleet.journal {
            let swap = try #require(journal.lastIndex(of: "activate v1"), "\(node)")
            #expect(journal[swap + 1].hasPrefix("persist") && journal[swap + 2] == "ack", "\(node): \(journal)")
        }
    }

    @Test func aNodeTheActivationDoesNotReachKeepsItsOldVersionAndStaysPrepared() {
        let fleet = prepared()
        let everyoneElse = Self.plan.nodes.map(\.id).filter { $0 != "n7" }
        fleet.activate(barrier: fleet.now + .seconds(1), to: everyoneElse)
        #expect(fleet.activated.count == 11)
        #expect(fleet.activated["n7"] == nil)
        #expect(fleet.agents["n7"]?.current?.phase == .prepared)
        #expect(fleet.verifiedAcks["n7"]?.status == .prepared, "the ledger holds its prepared ack, and no active one")
    }

    @Test func anActivationWhoseBarrierHasPassedSwapsAtOnce() {
        let fleet = prepared()
        let late = fleet.now - .seconds(5)
        let sent = fleet.now
        fleet.activate(barrier: late)
        #expect(fleet.activated.count == 12)
        #expect(fleet.completedAt.values.allSatisfy { $0 == sent })
        let reports = fleet.reports.compactMap { if case .swappedAtBarrier(_, _, let lateBy) = $0.1 { lateBy } else { nil } }
        #expect(reports.count == 12 && reports.allSatisfy { $0 == .seconds(5) }, "each node says how late it swapped")
    }

    @Test func aCompileFailureIsASignedRefusalAndTheNodeIgnoresTheActivation() {
        var faults = FleetHarness.Faults()
        faults.compileFailure = ["n4": "policy/test: rule 3: unknown field request.prot"]
        let fleet = prepared(faults)
        #expect(fleet.verifiedAcks["n4"]?.status == .refused)
        fleet.activate(barrier: fleet.now + .seconds(1))
        #expect(fleet.activated["n4"] == nil)
        #expect(fleet.activated.count == 11)
    }

    /// A single machine and every reason an activation is not acted on.
    @Test(arguments: ActivationCase.allCases)
    func anActivationIsTakenOnlyWhenSignedForThisFleetEpochAndPreparedManifest(_ c: ActivationCase) throws {
        let fleet = FleetHarness(plan: Self.plan, twoPhase: c != .onePhaseNode)
        fleet.deploy(limit: .seconds(30))
        var agent = try #require(fleet.agents["n3"])
        var activation = Activation(fleet: Self.plan.fleet, version: 1, manifest: fleet.manifestKey, barrier: fleet.now + .seconds(1), issuedAt: fleet.now)
        var signature = SignatureCheck.valid
        switch c {
        case .valid, .onePhaseNode: break
        case .badSignature: signature = .invalid("signed by an unknown key 0123456789abcdef")
        case .otherFleet: activation.fleet = FleetName("other")!
        case .otherManifest: activation.manifest = Key(digest: [UInt8](repeating: 3, count: 32))
        case .otherVersion: activation.version = 2
        case .staleEpoch:
            // A node that already accepted epoch 5 takes nothing signed under epoch 4.
            var record = agent.record
            record.highestEpoch = 5
            agent = AgentMachine(node: "n3", fleet: Self.plan.fleet, record: record, signer: KeySigner(key: fleet.nodeKeys["n3"]!))
            activation.epoch = 4
        }
        let actions = agent.onActivation(IncomingActivation(activation, signature: signature), now: fleet.now)
        let armed = actions.contains { if case .armTimer(.barrier(1), _) = $0 { true } else { false } }
        let ignored = actions.contains { if case .report(.activationIgnored) = $0 { true } else { false } }
        #expect(armed == (c == .valid), "\(c): \(actions)")
        #expect(ignored == (c != .valid && c != .onePhaseNode), "\(c): \(actions)")
        #expect(!actions.contains { if case .publishAggregate = $0 { true } else { false } }, "nothing is signed in reply")
    }

    enum ActivationCase: CaseIterable, Sendable {
        case valid, badSignature, otherFleet, otherManifest, otherVersion, staleEpoch, onePhaseNode
    }

    @Test func aNewerVersionSupersedesAPreparedOneAndItsCompiledCopyIsDropped() throws {
        let fleet = prepared()
        var agent = try #require(fleet.agents["n2"])
        let newer = Announcement(
            fleet: Self.plan.fleet, version: 2, manifest: Key(digest: [UInt8](repeating: 5, count: 32)), manifestSize: 300, plan: fleet.planKey,
            topology: Self.plan.topology, issuedAt: fleet.now, deadline: fleet.now + .seconds(60), expires: fleet.now + .seconds(600),
            ledger: "127.0.0.1:7400")
        let actions = agent.onAnnouncement(IncomingAnnouncement(announcement: newer, envelope: [], signature: .valid), local: nil, now: fleet.now)
        #expect(actions.contains(.discardCompiled(1)))
        #expect(actions.contains(.cancelTimer(.barrier(1))))
        #expect(agent.current?.version == 2)
    }

    @Test func askedForItsAnswerAPreparedNodeSendsItsPreparedAckAgain() throws {
        let fleet = prepared()
        var agent = try #require(fleet.agents["n5"])
        let actions = agent.onAnswerRequested(1, now: fleet.now)
        let sent = actions.compactMap { if case .publishAggregate(let a) = $0 { a } else { nil } }
        #expect(sent.count == 1)
        #expect(sent.first?.acks.first?.signed["status"]?.stringValue == "prepared")
    }
}
