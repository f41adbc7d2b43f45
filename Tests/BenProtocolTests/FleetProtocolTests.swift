import BenCore
import BenProtocol
import BenTestKit
import Testing

/// The real seeder and agent machines over the in-memory fleet: what a deployment does end to end, with
/// faults, in virtual time.
@Suite struct FleetProtocolTests {
    static let plan = TestPlans.striped(nodes: 20, stripes: 2, fanOut: 3)

    @Test func aHealthyFleetActivatesEveryNodeOnceWithTheLedgerSendingAboutOneBundle() {
        let fleet = FleetHarness(plan: Self.plan, chunkCount: 12)
        fleet.deploy()
        #expect(fleet.activated.count == 20)
        #expect(Set(fleet.verifiedAcks.keys) == Set(Self.plan.nodes.map(\.id)))
        #expect(fleet.verifiedAcks.values.allSatisfy { $0.status == .active })
        #expect(fleet.missingReasons.isEmpty)
        // No chunk is sent twice to the same node.
        for node in Self.plan.nodes.map(\.id) { #expect(fleet.chunksReceived[node] == 12, "\(node)") }
        // One child per stripe tree at the root: the ledger sends each chunk once.
        #expect(fleet.ledgerChunkFramesSent == 12)
        // Acks reach the ledger through its stripe-0 child, not one message per node.
        #expect(fleet.messagesAtLedger <= 2)
    }

    @Test func everyNodeMakesItsAcceptanceAndActivationDurableBeforeItAcks() {
        let fleet = FleetHarness(plan: Self.plan)
        fleet.deploy()
        for node in Self.plan.nodes.map(\.id) {
            let journal = fleet.journal[node] ?? []
            let accept = journal.firstIndex(of: "persist v1 active v0")
            let active = journal.firstIndex(of: "persist v1 active v1")
            let ack = journal.firstIndex(of: "ack")
            #expect(accept != nil && active != nil && ack != nil, "\(node): \(journal)")
            if let accept, let active, let ack { #expect(accept < active && active < ack, "\(node): \(journal)") }
        }
    }

    @Test func aDeadRelayIsReportedUnreachableAndItsChildrenAreAdopted() {
        // n2 relays in stripe 0 (2 mod 2 == 0) and has children there.
        let relay: NodeID = "n2"
        let children = Self.plan.children(stripe: 0)[2]
        #expect(!children.isEmpty)
        var faults = FleetHarness.Faults()
        faults.dead = [relay]
        let fleet = FleetHarness(plan: Self.plan, faults: faults)
        fleet.deploy()
        let everyoneElse = Set(Self.plan.nodes.map(\.id)).subtracting([relay])
        #expect(Set(fleet.verifiedAcks.keys) == everyoneElse)
        #expect(fleet.missingReasons[relay]?.code == .unreachable)
        #expect(fleet.activated[relay] == nil)
    }

    @Test func aRelayKilledMidTransferLeavesEveryOtherNodeActiveAndIsNamedMissing() {
        let relay: NodeID = "n1"  // relays in stripe 1
        var faults = FleetHarness.Faults()
        faults.killAt = [relay: .milliseconds(30)]
        let fleet = FleetHarness(plan: Self.plan, chunkCount: 16, faults: faults)
        fleet.deploy()
        let everyoneElse = Set(Self.plan.nodes.map(\.id)).subtracting([relay])
        #expect(Set(fleet.verifiedAcks.keys) == everyoneElse)
        #expect(fleet.missingReasons[relay] != nil)
        for node in everyoneElse { #expect(fleet.activated[node] == 1, "\(node)") }
    }

    @Test func aTamperingRelayIsNamedAndItsVictimsFetchGoodChunksElsewhere() {
        let relay: NodeID = "n3"  // relays in stripe 1
        var faults = FleetHarness.Faults()
        faults.tampering = [relay]
        let fleet = FleetHarness(plan: Self.plan, faults: faults)
        fleet.deploy()
        #expect(fleet.activated.count == 20, "every node still activates, with verified chunks only")
        #expect(fleet.missingReasons[relay] == nil, "no relay's unsigned word names it")
        let signed = fleet.tamperReports
        #expect(!signed.isEmpty && signed.allSatisfy { $0.relay == relay }, "its victims' signed reports name it: \(signed)")
        let tamperReports = fleet.reports.filter {
            if case .tamperedChunk(_, let from) = $0.1 { return from == relay }
            return false
        }
        #expect(!tamperReports.isEmpty)
    }

    @Test func aFailedCompileLeavesTheOldVersionAndSendsASignedRefusal() {
        var faults = FleetHarness.Faults()
        faults.compileFailure = ["n5": "policy/test: rule deny-ssh: unknown field request.prot"]
        let fleet = FleetHarness(plan: Self.plan, faults: faults)
        fleet.deploy()
        let ack = fleet.verifiedAcks["n5"]
        #expect(ack?.status == .refused)
        #expect(ack?.reason.contains("unknown field") == true)
        #expect(fleet.activated["n5"] == nil)
        #expect(fleet.agents["n5"]?.activeVersion == Version.none)
        #expect(fleet.activated.count == 19)
    }

    @Test func withNoParentEveryNodePullsFromTheStoreAndAcksDirectlyAsAnOrphan() {
        var settings = AgentMachine.Settings()
        settings.orphanAfter = .seconds(2)
        let fleet = FleetHarness(plan: TestPlans.striped(nodes: 6, stripes: 2, fanOut: 2), agentSettings: settings)
        fleet.deploy(startSeeder: false)
        #expect(fleet.activated.count == 6)
        #expect(fleet.publishedOverNATS.count == 6)
        #expect(fleet.publishedOverNATS.allSatisfy { $0.orphaned })
        #expect(fleet.verifiedAcks.count == 6)
    }

    @Test func theSameInputsGiveTheSameRun() {
        var faults = FleetHarness.Faults()
        faults.killAt = ["n4": .milliseconds(25)]
        let first = FleetHarness(plan: Self.plan, faults: faults)
        first.deploy()
        let second = FleetHarness(plan: Self.plan, faults: faults)
        second.deploy()
        #expect(first.completedAt == second.completedAt)
        #expect(first.missingReasons == second.missingReasons)
        #expect(first.chunksReceived == second.chunksReceived)
    }
}

