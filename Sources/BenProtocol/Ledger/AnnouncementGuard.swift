public import BenCore

/// Keeps the fleet's announcement stream clean (issues 13 and 15): what the ledger does about a message that
/// appears on `ben.<fleet>.announce` (its own publishes included), or that it finds at the head of the stream
/// when it starts or reconnects. The stream's latest message is what a restarting node reads first, so anything
/// there but the ledger's current signed announcement is replaced, and an alarm is raised.
/// Pure: the shell decodes the message and checks its signature, and carries out the decision.
///
/// At start the shell passes as `current` the last announcement its data says was published (before it signs it
/// again under its new epoch): the head should be exactly those bytes, and anything else was published while no
/// ledger watched (a replay while the ledger was down).
public enum AnnouncementGuard {
    /// The message as the shell read it.
    public enum Seen: Sendable, Hashable {
        /// Not a readable signed announcement.
        case unreadable(String)
        /// A signed announcement, but not by this ledger's key (by `keyID`, or a signature that does not verify).
        case foreign(keyID: String)
        /// Signed by this ledger's key.
        case signed(Announcement)
    }

    /// Why the ledger replaced the stream's head: raised as an alarm (status, audit log).
    public enum Alarm: Sendable, Hashable, CustomStringConvertible {
        case unreadable(String)
        case foreignKey(String)
        /// An announcement of a ledger that lost its lease.
        case staleEpoch(Version, epoch: UInt64)
        /// An older announcement published again.
        case replay(Version)
        /// Signed with this ledger's key, for a version or issue it never announced.
        case unknownAnnouncement(Version)

        /// Every alarm's audit-log kind: what `benctl status` looks for in the audit log.
        public static let kinds: Set<String> = [
            "stream_unreadable", "stream_foreign_key", "stale_epoch", "replay", "stream_unknown_announcement",
        ]

        /// The audit log's kind for it (one of `kinds`).
        public var kind: String {
            switch self {
            case .unreadable: "stream_unreadable"
            case .foreignKey: "stream_foreign_key"
            case .staleEpoch: "stale_epoch"
            case .replay: "replay"
            case .unknownAnnouncement: "stream_unknown_announcement"
            }
        }

        /// The finding as logs name it.
        public var description: String {
            switch self {
            case .unreadable(let detail): "something unreadable was published on the announcement subject (\(detail))"
            case .foreignKey(let key): "an announcement signed by a key that is not this ledger's (\(key)) was published"
            case .staleEpoch(let v, let e): "an announcement of \(v) from an older epoch (\(e)) was published"
            case .replay(let v): "an older announcement was published (a replay? it was of \(v))"
            case .unknownAnnouncement(let v): "an announcement of \(v) signed with this ledger's key that it never made was published"
            }
        }
    }

    /// What the ledger does about what it found on the announcement stream.
    public enum Decision: Sendable, Hashable {
        /// The stream's head is this ledger's current word (or nothing is wrong): do nothing.
        case keep
        /// A newer epoch signed with this ledger's key: another ledger holds the lease now; stop serving.
        case stepDown(seenEpoch: UInt64)
        /// Publish the current announcement again, so it is the head, and raise the alarm.
        case republish(Alarm)
        /// Nothing has been announced yet to put back: delete the message from the stream, and raise the alarm.
        case purge(Alarm)
    }

    /// - Parameters:
    ///   - seen: the message, read.
    ///   - identical: whether its bytes are exactly the current announcement's envelope.
    ///   - current: the ledger's current announcement, if it has made one.
    ///   - epoch: the ledger's lease epoch.
    public static func decide(_ seen: Seen, identical: Bool, current: Announcement?, epoch: UInt64) -> Decision {
        if case .signed(let a) = seen, a.epoch > epoch { return .stepDown(seenEpoch: a.epoch) }
        guard !identical else { return .keep }
        let alarm: Alarm
        switch seen {
        case .unreadable(let detail): alarm = .unreadable(detail)
        case .foreign(let key): alarm = .foreignKey(key)
        case .signed(let a):
            if let current, a.epoch < current.epoch {
                alarm = .staleEpoch(a.version, epoch: a.epoch)
            } else if let current, a.version < current.version || (a.version == current.version && a.issuedAt < current.issuedAt) {
                alarm = .replay(a.version)
            } else {
                alarm = .unknownAnnouncement(a.version)
            }
        }
        return current == nil ? .purge(alarm) : .republish(alarm)
    }
}
