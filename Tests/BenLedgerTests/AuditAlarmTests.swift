import BenCore
import BenLedger
import BenProtocol
import BenTestKit
import Testing

/// Issue 15 item 4: the alarms `benctl status` shows come from the audit log, by kind, newest first, and only
/// recent ones; the chain they sit in still verifies.
@Suite struct AuditAlarmTests {
    static let t0 = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)

    @Test func latestEntriesOfTheAlarmKindsComeNewestFirstWithinTheWindowAndTheLimit() throws {
        let dir = try TemporaryDirectory()
        let database = try LedgerDatabase(path: dir.file("ledger.sqlite"))
        let entries: [(String, Int64)] = [
            ("stream_foreign_key", 0), ("deploy", 10), ("replay", 20), ("acks", 30), ("stale_epoch", 40), ("stream_unreadable", 50),
            ("transition", 60),
        ]
        for (kind, seconds) in entries {
            try database.appendAudit(kind: kind, operatorKey: "ledger", detail: ["alarm": .string(kind)], at: Self.t0 + .seconds(seconds))
        }
        let kinds = AnnouncementGuard.Alarm.kinds

        let all = try database.latestAuditEntries(kinds: kinds, since: Self.t0, limit: 10)
        let recent = try database.latestAuditEntries(kinds: kinds, since: Self.t0 + .seconds(20), limit: 10)
        let two = try database.latestAuditEntries(kinds: kinds, since: Self.t0, limit: 2)

        #expect(all.map(\.kind) == ["stream_unreadable", "stale_epoch", "replay", "stream_foreign_key"])
        #expect(all.map(\.seq) == [6, 5, 3, 1])
        #expect(all.first?.detail["alarm"]?.stringValue == "stream_unreadable")
        #expect(recent.map(\.kind) == ["stream_unreadable", "stale_epoch", "replay"], "the one before the window is left out")
        #expect(two.map(\.kind) == ["stream_unreadable", "stale_epoch"])
        #expect(try database.latestAuditEntries(kinds: [], since: Self.t0, limit: 10).isEmpty)
        #expect(try database.verifyAudit().firstBad == nil)
    }
}
