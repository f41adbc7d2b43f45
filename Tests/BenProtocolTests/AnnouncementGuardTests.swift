import BenCore
import BenProtocol
import Testing

/// Issue 15 item 4 at the ledger: what the ledger does about a message it sees on the announcement subject, or
/// finds at the head of the stream when it starts. Anything but its own current signed announcement is replaced
/// (or, with nothing announced yet, purged) and raises an alarm; a newer epoch under its own key means another
/// ledger holds the lease.
@Suite struct AnnouncementGuardTests {
    static let fleet = FleetName("test")!

    @Test(arguments: [
        // Seen, identical to the current envelope, current (version, epoch), ledger epoch → decision.
        ("its own current announcement", AnnouncementGuard.Seen.signed(AnnouncementGuardTests.fixed(4, 5)), true, 4, 5, 5, "keep"),
        ("a foreign key's v99", .foreign(keyID: "0123456789abcdef"), false, 4, 5, 5, "republish stream_foreign_key"),
        ("something unreadable", .unreadable("not JSON"), false, 4, 5, 5, "republish stream_unreadable"),
        ("an older version replayed", .signed(AnnouncementGuardTests.fixed(1, 5)), false, 4, 5, 5, "republish replay"),
        ("the current version issued earlier", .signed(AnnouncementGuardTests.fixed(4, 5, later: -60)), false, 4, 5, 5, "republish replay"),
        ("a fenced ledger's announcement", .signed(AnnouncementGuardTests.fixed(9, 3)), false, 4, 5, 5, "republish stale_epoch"),
        ("a version it never announced, with its key", .signed(AnnouncementGuardTests.fixed(7, 5)), false, 4, 5, 5,
            "republish stream_unknown_announcement"),
        ("its key under a newer epoch", .signed(AnnouncementGuardTests.fixed(4, 8)), false, 4, 5, 5, "step down 8"),
        ("a foreign key, nothing announced yet", .foreign(keyID: "0123456789abcdef"), false, nil, 0, 5, "purge stream_foreign_key"),
        // At start: the current is the last announcement published, under the previous epoch (5); the ledger now holds 6.
        ("at start, the last published one", .signed(AnnouncementGuardTests.fixed(4, 5)), true, 4, 5, 6, "keep"),
        ("at start, v1 replayed while the ledger was down", .signed(AnnouncementGuardTests.fixed(1, 5)), false, 4, 5, 6, "republish replay"),
    ] as [(String, AnnouncementGuard.Seen, Bool, Int?, Int, Int, String)])
    func theLedgerKeepsOnlyItsCurrentAnnouncementAtTheHead(
        situation: String, seen: AnnouncementGuard.Seen, identical: Bool, current: Int?, currentEpoch: Int, epoch: Int, expected: String
    ) {
        let currentAnnouncement = current.map { Self.fixed(Version(UInt64($0)), UInt64(currentEpoch)) }
        let decision = AnnouncementGuard.decide(seen, identical: identical, current: currentAnnouncement, epoch: UInt64(epoch))
        let described: String =
            switch decision {
            case .keep: "keep"
            case .stepDown(let e): "step down \(e)"
            case .republish(let alarm): "republish \(alarm.kind)"
            case .purge(let alarm): "purge \(alarm.kind)"
            }
        #expect(described == expected, "\(situation)")
        if case .republish(let alarm) = decision { #expect(AnnouncementGuard.Alarm.kinds.contains(alarm.kind)) }
        if case .purge(let alarm) = decision { #expect(AnnouncementGuard.Alarm.kinds.contains(alarm.kind)) }
    }

    /// A fixed announcement (the harness's manifest and times are irrelevant to the guard).
    static func fixed(_ version: Version, _ epoch: UInt64, later: Int64 = 0) -> Announcement {
        let key = Key(digest: [UInt8](repeating: 5, count: 32))
        let t = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000) + .seconds(later)
        return Announcement(
            fleet: fleet, version: version, manifest: key, manifestSize: 10, plan: key, topology: key, issuedAt: t,
            deadline: t + .seconds(60), expires: t + .seconds(86_400), ledger: "127.0.0.1:7400", epoch: epoch)
    }

    @Test func everyAlarmSaysWhatWasPublishedInOneLineAndHasAKindStatusLooksFor() {
        let alarms: [AnnouncementGuard.Alarm] = [
            .unreadable("x"), .foreignKey("0123456789abcdef"), .staleEpoch(9, epoch: 3), .replay(1), .unknownAnnouncement(7),
        ]
        #expect(Set(alarms.map(\.kind)) == AnnouncementGuard.Alarm.kinds)
        #expect(alarms.allSatisfy { !$0.description.contains("\n") && $0.description.contains("published") })
        #expect(AnnouncementGuard.Alarm.foreignKey("0123456789abcdef").description.contains("0123456789abcdef"))
        #expect(AnnouncementGuard.Alarm.replay(1).description.contains("v1"))
    }
}
