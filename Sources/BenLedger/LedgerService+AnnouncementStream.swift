import BenCore
import BenCrypto
import BenNATS
import BenProtocol
import Logging

/// Keeps `ben.<fleet>.announce` clean (issue 15): the stream's head is what a node that catches up reads first,
/// so anything there but this ledger's current signed announcement (a foreign key, a replay, a version it never
/// announced) is replaced and raises an alarm, in the log, the audit log and `benctl status`. The head is checked
/// when the ledger starts, on every message on the subject, and whenever its NATS connection comes back (what was
/// published while it was away never reached its subscription). `AnnouncementGuard` decides; this carries it out.
extension LedgerService {
    /// When the ledger looked at the stream, for the alarm's record.
    enum StreamCheck: String {
        /// At start, before re-signing the latest announcement under the new epoch.
        case start
        /// A message arrived on the subject.
        case message
        /// The NATS connection came back.
        case reconnect
    }

    /// How long an alarm is shown with every `benctl status` (the audit log keeps it for good).
    static let alarmShownFor: Duration = .seconds(24 * 3600)
    /// At most this many alarms are shown with a status, the newest.
    static let alarmsShown = 10

    /// At start, after winning the lease and before re-signing anything under the new epoch: the stream's head
    /// should be the last announcement this ledger's data says was published (the same bytes). Anything else was
    /// put there while no ledger watched: the alarm is raised now, and `announceEpoch` then publishes the current
    /// announcement over it (or, with nothing announced yet, the stream is purged).
    func checkAnnouncementStreamAtStart(_ connection: NATSConnection) async {
        let head: JetStream.StoredMessage?
        do {
            head = try await connection.jetStream().lastMessage(
                stream: NATSSubjects.announceStream(configuration.fleet), subject: NATSSubjects.announce(configuration.fleet))
        } catch {
            logger.warning("cannot read the head of the announcement stream at start", metadata: ["error": "\(error)"])
            return
        }
        guard let head else { return }
        let latest = machine.highestAnnounced
        let published = latest == .none ? nil : try? database.setting("announcement.\(latest.rawValue)").flatMap(Hex.decode)
        let decision = AnnouncementGuard.decide(
            read(announcementOnStream: head.payload), identical: published == head.payload, current: published.flatMap(announcement(in:)),
            epoch: epoch)
        carryOut(decision, check: .start, sequence: head.sequence) { alarm in
            // `announceEpoch`, which runs next, publishes the current announcement under this ledger's epoch.
            raise(alarm, check: .start, sequence: head.sequence, replaced: "the current announcement, signed again under this ledger's epoch")
        }
    }

    /// Every message on `ben.<fleet>.announce`, this ledger's own publishes included (those are kept).
    func followAnnouncements(_ subscription: NATSSubscription) async throws {
        for await message in subscription {
            guardAnnouncement(message.payload, check: .message)
        }
    }

    /// Reads the head again whenever the NATS connection comes back: messages published while the ledger was
    /// disconnected never reached its subscription.
    func checkAnnouncementStreamOnReconnect(_ connection: NATSConnection) async {
        for await event in connection.events() {
            guard case .reconnected = event else { continue }
            do {
                let head = try await connection.jetStream().lastMessage(
                    stream: NATSSubjects.announceStream(configuration.fleet), subject: NATSSubjects.announce(configuration.fleet))
                if let head { guardAnnouncement(head.payload, check: .reconnect, sequence: head.sequence) }
            } catch {
                logger.warning("cannot read the head of the announcement stream after reconnecting", metadata: ["error": "\(error)"])
            }
        }
    }

    func guardAnnouncement(_ bytes: [UInt8], check: StreamCheck, sequence: UInt64? = nil) {
        let current = machine.highestAnnounced
        let currentEnvelope = announcements[current]
        let decision = AnnouncementGuard.decide(
            read(announcementOnStream: bytes), identical: currentEnvelope == bytes, current: currentEnvelope.flatMap(announcement(in:)),
            epoch: epoch)
        carryOut(decision, check: check, sequence: sequence) { alarm in
            guard let currentEnvelope else { return }
            raise(alarm, check: check, sequence: sequence, replaced: "the current announcement of \(current), published again")
            publish(envelope: currentEnvelope, version: current)
        }
    }

    /// Carries out the guard's decision on what heads the stream; `republish` puts the current announcement back at
    /// the head and raises the alarm (each check does that its own way). Nothing is done without the lease.
    func carryOut(
        _ decision: AnnouncementGuard.Decision, check: StreamCheck, sequence: UInt64?, republish: (AnnouncementGuard.Alarm) -> Void
    ) {
        switch decision {
        case .keep:
            return
        case .stepDown(let seenEpoch):
            // Signed under a newer epoch with this ledger's key: another ledger holds the lease now.
            let seen = check == .start ? "heads the stream" : "appeared"
            loseLease("an announcement of epoch \(seenEpoch) \(seen); this ledger's epoch is \(epoch)")
        case .republish(let alarm):
            guard mayAct("guard the announcement stream") else { return }
            republish(alarm)
        case .purge(let alarm):
            guard mayAct("guard the announcement stream") else { return }
            raise(alarm, check: check, sequence: sequence, replaced: "nothing: no announcement yet; the stream was purged")
            purgeAnnouncementStream()
        }
    }

    /// The announcement inside a signed envelope this ledger made.
    func announcement(in envelope: [UInt8]) -> Announcement? {
        (try? SignedEnvelope.decode(envelope, as: Announcement.self))?.document
    }

    /// What the guard needs to know of a message on the announcement subject: readable, and signed by whom.
    func read(announcementOnStream bytes: [UInt8]) -> AnnouncementGuard.Seen {
        let envelope: SignedEnvelope
        let announcement: Announcement
        do {
            (envelope, announcement) = try SignedEnvelope.decode(bytes, as: Announcement.self)
        } catch {
            return .unreadable("\(error)")
        }
        guard (try? envelope.verify(context: .announce, trusted: TrustedKeys([configuration.key.publicKey]))) != nil else {
            return .foreign(keyID: envelope.signatures.first?.keyID ?? "no signature")
        }
        return .signed(announcement)
    }

    /// Logs an alarm about the announcement stream and records it in the audit log, where `benctl status` finds
    /// it (`recentAlarms`).
    func raise(_ alarm: AnnouncementGuard.Alarm, check: StreamCheck, sequence: UInt64?, replaced: String) {
        var metadata: Logger.Metadata = ["alarm": "\(alarm.kind)", "check": "\(check.rawValue)", "replaced by": "\(replaced)"]
        if let sequence { metadata["stream.sequence"] = "\(sequence)" }
        logger.warning("alarm: \(alarm); putting the ledger's current word back at the head of the stream", metadata: metadata)
        var detail: [String: JSONValue] = [
            "alarm": .string(alarm.description), "epoch": .int(Int64(epoch)), "check": .string(check.rawValue), "replaced_by": .string(replaced),
        ]
        if let sequence { detail["stream_sequence"] = .int(Int64(sequence)) }
        audit(alarm.kind, detail: .object(detail))
    }

    /// Nothing announced yet, and something foreign heads the stream: remove it, so no node reads it first.
    func purgeAnnouncementStream() {
        guard let nats else { return }
        let stream = NATSSubjects.announceStream(configuration.fleet)
        let logger = logger
        tasks.spawn {
            do {
                try await nats.jetStream().purgeStream(stream)
            } catch {
                logger.error("cannot purge the announcement stream", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The alarms about the announcement stream raised in the last `alarmShownFor`, newest first, at most
    /// `alarmsShown`: shown with every `benctl status`.
    func recentAlarms() -> [DeploymentStatus.Alarm] {
        let entries: [AuditEntry]
        do {
            entries = try database.latestAuditEntries(kinds: AnnouncementGuard.Alarm.kinds, since: now() - Self.alarmShownFor, limit: Self.alarmsShown)
        } catch {
            logger.error("cannot read the alarms from the audit log", metadata: ["error": "\(error)"])
            return []
        }
        return entries.map { entry in
            let what = entry.detail["alarm"]?.stringValue ?? entry.kind
            let replaced = entry.detail["replaced_by"]?.stringValue.map { "; replaced by \($0)" } ?? ""
            return DeploymentStatus.Alarm(at: entry.at, kind: entry.kind, detail: what + replaced)
        }
    }
}
