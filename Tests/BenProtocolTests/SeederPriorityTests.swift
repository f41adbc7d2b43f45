import BenCore
import BenProtocol
import BenTestKit
import Testing

/// The ledger's uplink seeds first (issue 12): pulls from its store wait while the pushes to the first level
/// move, and go once seeding is done, or once it has stopped moving.
@Suite struct SeederPriorityTests {
    static let plan = TestPlans.striped(nodes: 3, stripes: 1, fanOut: 1)
    let fleet = FleetHarness(plan: SeederPriorityTests.plan, chunkCount: 8)
    let pullLink = LinkID(inbound: 7)
    var header: FrameHeader { FrameHeader(fleet: Self.plan.fleet, version: Self.plan.version) }

    /// A seeder streaming to its one first-level node (n0): chunks 0–3 in flight, 4–7 queued.
    func seeding() throws -> (SeederMachine, LinkID) {
        var seeder = SeederMachine(
            plan: Self.plan, planKey: fleet.planKey, manifest: fleet.manifestKey, chunkKeys: fleet.chunkKeys,
            announcement: fleet.envelope.canonicalBytes)
        let started = seeder.handle(.start, now: fleet.now)
        let seedLink = try #require(
            started.compactMap { action -> LinkID? in
                if case .connect(let link, _, .push) = action { return link }
                return nil
            }.first, "\(started)")
        _ = seeder.handle(.linkConnected(seedLink), now: fleet.now)
        let streaming = seeder.handle(.hello(seedLink, Hello(header: header, purpose: .accept, node: NodeID("n0"))), now: fleet.now)
        #expect(chunks(streaming, on: seedLink) == [0, 1, 2, 3], "\(streaming)")
        let accepted = seeder.handle(.linkAccepted(pullLink, hello: Hello(header: header, purpose: .pull, node: NodeID("n2"))), now: fleet.now)
        #expect(accepted.contains { if case .send(pullLink, .hello) = $0 { true } else { false } })
        return (seeder, seedLink)
    }

    func chunks(_ actions: [SeederMachine.Action], on link: LinkID) -> [Int] {
        actions.compactMap { action -> Int? in
            if case .send(link, .chunk(let index, _)) = action { return index }
            return nil
        }
    }

    @Test func aPullWaitsWhileSeedingMovesAndGoesWhenItIsDone() throws {
        var (seeder, seedLink) = try seeding()
        let wanted = seeder.handle(.nack(pullLink, [NackEntry(index: 5, code: .want)]), now: fleet.now)
        #expect(chunks(wanted, on: pullLink).isEmpty, "held while seeding moves: \(wanted)")
        #expect(wanted.contains { if case .armTimer(.pullsHeld, _) = $0 { true } else { false } }, "\(wanted)")
        var pulled: [Int] = []
        var seeded: [Int] = []
        for i in 0..<8 {
            let actions = seeder.handle(.chunkSent(seedLink, index: i), now: fleet.now + .milliseconds(100 * (i + 1)))
            seeded += chunks(actions, on: seedLink)
            pulled += chunks(actions, on: pullLink)
            if i < 7 { #expect(pulled.isEmpty, "still seeding after chunk \(i) left: \(actions)") }
        }
        #expect(seeded == [4, 5, 6, 7])
        #expect(pulled == [5], "the pull goes once the last seeding chunk has left")
    }

    @Test func aPullGoesOnceSeedingHasStoppedMoving() throws {
        var (seeder, _) = try seeding()
        let wanted = seeder.handle(.nack(pullLink, [NackEntry(index: 2, code: .want)]), now: fleet.now + .milliseconds(500))
        let timer = try #require(
            wanted.compactMap { action -> Timestamp? in
                if case .armTimer(.pullsHeld, let at) = action { return at }
                return nil
            }.first, "\(wanted)")
        // n0 stopped reading: nothing seeded leaves, and the held pull goes when the grace runs out.
        let fired = seeder.handle(.timer(.pullsHeld(Self.plan.version)), now: timer)
        #expect(chunks(fired, on: pullLink) == [2], "\(fired)")
    }

    @Test func withNoSeedingUnderWayAPullGoesAtOnce() throws {
        var (seeder, seedLink) = try seeding()
        for i in 0..<8 { _ = seeder.handle(.chunkSent(seedLink, index: i), now: fleet.now) }
        let wanted = seeder.handle(.nack(pullLink, [NackEntry(index: 6, code: .want)]), now: fleet.now + .seconds(1))
        #expect(chunks(wanted, on: pullLink) == [6], "\(wanted)")
    }
}
