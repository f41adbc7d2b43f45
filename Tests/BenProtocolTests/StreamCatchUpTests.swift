import BenCore
import BenProtocol
import BenTestKit
import Testing

/// Issue 15 item 4 at the agent machine: a node catching up from the announcement stream's history skips what it
/// would refuse and takes the newest valid announcement, not the last message.
///
/// A history is written as the stream holds it, oldest first: `v4@5` is version 4 signed by the trusted ledger
/// under epoch 5; `:forged` marks a signature that does not verify, `:elsewhere` another fleet, `:expired` an
/// announcement past its expiry, `:later` one issued a minute later than the others (a retry).
@Suite struct StreamCatchUpTests {
    static let plan = TestPlans.striped(nodes: 3, stripes: 1, fanOut: 1)
    let fleet = FleetHarness(plan: StreamCatchUpTests.plan, chunkCount: 4)

    /// A node that runs `running` (nothing if nil) and accepted epoch `epoch`.
    func agent(running: Version?, epoch: UInt64 = 0) -> AgentMachine {
        let record = AgentRecord(
            active: running.map { ActiveVersion(version: $0, manifest: fleet.manifestKey) }, highestAccepted: running ?? .none,
            highestEpoch: epoch)
        return AgentMachine(node: "n1", fleet: Self.plan.fleet, record: record, signer: KeySigner(key: fleet.nodeKeys["n1"]!))
    }

    func history(_ text: String) -> [IncomingAnnouncement] {
        text.split(separator: " ").map { token in
            let parts = token.split(separator: ":")
            let numbers = parts[0].dropFirst().split(separator: "@")
            var a = fleet.announcement
            a.version = Version(UInt64(numbers[0])!)
            a.epoch = UInt64(numbers[1])!
            var signature = SignatureCheck.valid
            for mark in parts.dropFirst() {
                switch mark {
                case "forged": signature = .invalid("signed by 0123456789abcdef, none of which is a trusted key")
                case "elsewhere": a.fleet = FleetName("elsewhere")!
                case "expired": a.expires = fleet.now - .seconds(600)
                case "later": a.issuedAt = a.issuedAt + .seconds(60)
                default: Issue.record("unknown mark \(mark) in \(token)")
                }
            }
            return IncomingAnnouncement(announcement: a, envelope: fleet.ledgerKey.envelope(a, context: .announce).canonicalBytes, signature: signature)
        }
    }

    func describe(_ a: IncomingAnnouncement?) -> String {
        guard let a else { return "nothing" }
        return "v\(a.announcement.version.rawValue)@\(a.announcement.epoch)"
    }

    @Test(arguments: [
        // A forged v99 heads the stream: the node that ran v1 takes v4, the newest real one.
        ("v1@5 v2@5 v3@5 v4@5 v99@5:forged", 1, 5, AnnouncementCatchUp.Outcome.newer, "v4@5", 3),
        // v1 replayed while the ledger was down: a node with fresh state still takes v2.
        ("v1@5 v2@5 v1@5", nil, 0, .newer, "v2@5", 1),
        // A new lease holder (epoch 9) re-signed v2; a fenced ledger (epoch 5) published v3 afterwards.
        ("v1@5 v2@5 v2@9 v3@5", nil, 0, .newer, "v2@9", 2),
        // The node runs the newest already: it gets it back under the newest epoch, to keep that epoch.
        ("v3@5 v4@5 v4@9 v99@9:forged", 4, 5, .nothingNewer, "v4@9", 2),
        // Nothing from a ledger this node trusts for its fleet: the last message, to be refused as a live one is.
        ("v5@5:forged v6@5:elsewhere", nil, 0, .nothingTrusted, "v6@5", 1),
        // Expired announcements are passed over, newer or not.
        ("v2@5 v3@5:expired", 1, 5, .newer, "v2@5", 0),
        // The same version issued again later (a retry) is the newer word.
        ("v2@5 v2@5:later", 1, 5, .newer, "v2@5", 1),
        // Everything is older than the epoch the node accepted (the stream lost its history): nothing trusted.
        ("v1@5 v2@5", 2, 7, .nothingTrusted, "v2@5", 1),
        ("", 1, 5, .empty, "nothing", nil),
    ] as [(String, Int?, Int, AnnouncementCatchUp.Outcome, String, Int?)])
    func theNewestValidAnnouncementIsChosen(
        stream: String, running: Int?, epoch: Int, outcome: AnnouncementCatchUp.Outcome, chosen: String, position: Int?
    ) {
        let machine = agent(running: running.map { Version(UInt64($0)) }, epoch: UInt64(epoch))
        let choice = machine.catchUp(from: history(stream), now: fleet.now)
        #expect(choice.outcome == outcome, "\(stream)")
        #expect(describe(choice.chosen) == chosen, "\(stream)")
        #expect(choice.chosenPosition == position, "\(stream)")
        #expect(choice.skipped.count == max(0, history(stream).count - 1), "every other message is accounted for")
    }

    @Test func everyMessagePassedOverSaysWhyAndOnlyForgeriesAreSuspect() {
        let choice = agent(running: 1, epoch: 5).catchUp(from: history("v1@5 v2@5 v3@5 v4@5 v99@5:forged v7@5:elsewhere"), now: fleet.now)
        let reasons = choice.skipped.map { "v\($0.version.rawValue): \($0.reason)" }
        #expect(
            reasons == [
                "v1: not newer than the running v1", "v2: superseded by v4, which the stream also holds",
                "v3: superseded by v4, which the stream also holds",
                "v99: signature: signed by 0123456789abcdef, none of which is a trusted key", "v7: it is for fleet elsewhere",
            ])
        #expect(choice.skipped.filter(\.reason.isSuspect).map(\.version) == [99, 7])
        #expect(choice.skipped.map(\.position) == [0, 1, 2, 4, 5])
    }

    @Test func theChoiceHandedToTheMachineStartsWorkOnTheNewestRealVersion() throws {
        var machine = agent(running: 1, epoch: 5)
        let choice = machine.catchUp(from: history("v1@5 v4@5 v99@5:forged"), now: fleet.now)
        let chosen = try #require(choice.chosen)
        let actions = machine.onAnnouncement(chosen, local: nil, now: fleet.now)
        #expect(actions.contains { if case .report(.announcementAccepted(4)) = $0 { true } else { false } }, "\(actions)")
        #expect(machine.record.highestAccepted == 4)
        #expect(!actions.contains { if case .publishAggregate = $0 { true } else { false } }, "the forgery earns no signed refusal")
    }

    @Test func handedBackTheVersionItRunsUnderANewerEpochTheNodeKeepsThatEpoch() throws {
        var machine = agent(running: 4, epoch: 5)
        let choice = machine.catchUp(from: history("v4@5 v4@9 v1@5"), now: fleet.now)
        #expect(choice.outcome == .nothingNewer)
        let actions = machine.onAnnouncement(try #require(choice.chosen), local: nil, now: fleet.now)
        #expect(machine.record.highestEpoch == 9, "\(actions)")
        #expect(machine.record.highestAccepted == 4)
    }

    @Test func theChoiceDoesNotDependOnTheOrderTheStreamHoldsThemIn() {
        let stream = history("v1@5 v2@5 v3@5 v3@9 v3@9:later v99@9:forged v7@5 v8@9:elsewhere v2@9 v9@9:expired")
        let expected = stream[4].announcement  // v3 under epoch 9, issued last
        for seed in UInt64(1)...40 {
            var generator = SeededGenerator(seed: seed)
            let shuffled = stream.shuffled(using: &generator)
            let choice = agent(running: 1, epoch: 5).catchUp(from: shuffled, now: fleet.now)
            #expect(choice.chosen?.announcement == expected, "seed \(seed): \(shuffled.map(describe))")
            #expect(choice.outcome == .newer, "seed \(seed)")
        }
    }
}
