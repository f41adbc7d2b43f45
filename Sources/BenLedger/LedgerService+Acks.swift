import BenCore
import BenCrypto
import BenNATS
import BenPeerLink
import BenProtocol
import Logging

extension LedgerService {
    /// An aggregate reached the ledger (from a first-level node, or over NATS from an orphan or a relay whose
    /// parent link was gone). Relay reports are recorded now; the acks are verified on every core, off this
    /// actor, and only those that verify reach the deployment machine.
    func ingest(_ aggregate: Aggregate) {
        guard aggregate.fleet == configuration.fleet else {
            logger.warning("aggregate for another fleet ignored", metadata: ["fleet": "\(aggregate.fleet)"])
            return
        }
        let version = aggregate.version
        if !aggregate.missing.isEmpty {
            perform(machine.onMissingReports(version, aggregate.missing))
            if let record = machine.versions[version] { perform([.persist(record)]) }
        }
        guard !aggregate.acks.isEmpty else { return }
        let keys = nodeKeys
        let acks = aggregate.acks
        tasks.spawn {
            let outcome = AckVerifier.verify(acks, keys: keys)
            await self.verified(outcome, relay: aggregate.relay, orphaned: aggregate.orphaned)
        }
    }

    func verified(_ outcome: AckVerifier.Outcome, relay: NodeID, orphaned: Bool) {
        guard mayAct("record acks") else { return }
        countVerification(outcome)
        for rejected in outcome.rejected {
            perform(machine.onUnverifiedAck(node: rejected.node, version: rejected.version, reason: rejected.reason))
        }
        guard !outcome.verified.isEmpty else { return }
        var envelopes: [NodeID: [UInt8]] = [:]
        for (ack, envelope) in outcome.verified { envelopes[ack.node] = envelope }
        let actions = machine.onAcks(outcome.verified.map(\.ack), now: SystemClock.now())
        // The acks that counted are written in one transaction, before any transition they cause.
        let counted = actions.compactMap { if case .recordAck(let ack) = $0 { ack } else { nil } }
        do {
            try database.recordAcks(counted.map { ($0, envelopes[$0.node] ?? []) })
        } catch {
            logger.critical("cannot record acks; stopping", metadata: ["error": "\(error)"])
            tasks.finish()
            return
        }
        if !counted.isEmpty {
            let active = counted.filter { $0.status == .active }.count
            audit(
                "acks",
                detail: [
                    "version": .int(Int64(counted[0].version.rawValue)), "active": .int(Int64(active)),
                    "refused": .int(Int64(counted.count - active)), "via": .string(relay.rawValue), "orphaned": .bool(orphaned),
                ])
        }
        perform(actions.filter { if case .recordAck = $0 { false } else { true } })
    }

    /// `ben.<fleet>.ack`: aggregates that did not come up the tree.
    func followAcks(_ connection: NATSConnection) async throws {
        let subscription = try await connection.subscribe(subject: NATSSubjects.ack(configuration.fleet))
        for await message in subscription {
            do {
                let aggregate = try Aggregate.decode(message.payload)
                countMessage(aggregate.version)
                ingest(aggregate)
            } catch {
                logger.warning("unreadable aggregate on the ack subject", metadata: ["error": "\(error)"])
            }
        }
    }

    func countMessage(_ version: Version) {
        messages[version, default: 0] += 1
    }

    /// `ben.<fleet>.heartbeat`: the last word from every node, for drift and for planning around silent nodes.
    /// Each is kept with when the ledger received it, on the ledger's clock: silence is measured from that, never
    /// from the node's own timestamp, so a node whose clock is wrong is neither called silent nor kept alive by it.
    func followHeartbeats(_ connection: NATSConnection) async throws {
        let subscription = try await connection.subscribe(subject: NATSSubjects.heartbeat(configuration.fleet))
        for await message in subscription {
            guard let beat = try? Heartbeat.decode(message.payload), beat.fleet == configuration.fleet else { continue }
            heartbeats[beat.node] = ReceivedHeartbeat(beat: beat, receivedAt: SystemClock.now())
        }
    }
}

/// A node's heartbeat and when the ledger received it (the ledger's clock).
struct ReceivedHeartbeat: Sendable {
    var beat: Heartbeat
    var receivedAt: Timestamp

    /// How far the node's clock is from the ledger's: its timestamp minus the time the ledger received it
    /// (positive: the node's clock runs ahead). Includes the heartbeat's transit time, a few milliseconds.
    var offset: Duration { beat.at - receivedAt }
}

extension LedgerService {
    /// Watches `ben.<fleet>.announce`: if anything but the current announcement appears there (an older one
    /// replayed by someone with access to NATS), the current one is published again, so the stream's latest —
    /// what a restarting node reads — is always the ledger's current word. Nodes refuse the replay on their own
    /// (not newer than what they run); this keeps late joiners from even seeing it first.
    func followAnnouncements(_ connection: NATSConnection) async throws {
        let subscription = try await connection.subscribe(subject: NATSSubjects.announce(configuration.fleet))
        for await message in subscription {
            guardAnnouncement(message.payload)
        }
    }

    func guardAnnouncement(_ bytes: [UInt8]) {
        if let seen = try? SignedEnvelope.decode(bytes, document: "announcement", maxBytes: Announcement.maxBytes),
            (try? seen.verify(context: .announce, trusted: TrustedKeys([configuration.key.publicKey]))) != nil,
            let announcement = try? seen.document(as: Announcement.self), announcement.epoch > epoch
        {
            // Signed under a newer epoch with this ledger's key: another ledger holds the lease now.
            loseLease("an announcement of epoch \(announcement.epoch) appeared; this ledger's epoch is \(epoch)")
            return
        }
        guard mayAct("guard the announcement stream") else { return }
        let current = machine.highestAnnounced
        guard current > .none, let currentEnvelope = announcements[current], bytes != currentEnvelope else { return }
        guard let seen = try? SignedEnvelope.decode(bytes, document: "announcement", maxBytes: Announcement.maxBytes),
            let announcement = try? seen.document(as: Announcement.self),
            let ours = try? SignedEnvelope.decode(currentEnvelope, document: "announcement", maxBytes: Announcement.maxBytes),
            let currentAnnouncement = try? ours.document(as: Announcement.self)
        else {
            logger.warning("something unreadable was published on the announcement subject; re-publishing the current announcement")
            publish(envelope: currentEnvelope, version: current)
            return
        }
        if announcement.epoch < currentAnnouncement.epoch {
            // From a ledger that lost its lease: nodes refuse it (it is older than the epoch they hold); the stream's
            // latest goes back to this ledger's word so nodes that come back never even see it first.
            logger.warning(
                "an announcement from an older epoch was published; re-publishing the current one",
                metadata: ["seen": "\(announcement.version)", "seen.epoch": "\(announcement.epoch)", "epoch": "\(currentAnnouncement.epoch)"])
            audit(
                "stale_epoch",
                detail: ["seen": .int(Int64(announcement.version.rawValue)), "seen_epoch": .int(Int64(announcement.epoch)), "epoch": .int(Int64(epoch))])
            publish(envelope: currentEnvelope, version: current)
            return
        }
        guard announcement.version < current || (announcement.version == current && announcement.issuedAt < currentAnnouncement.issuedAt) else {
            return
        }
        logger.warning(
            "an older announcement was published (a replay?); re-publishing the current one",
            metadata: ["seen": "\(announcement.version)", "current": "\(current)"])
        audit("replay", detail: ["seen": .int(Int64(announcement.version.rawValue)), "current": .int(Int64(current.rawValue))])
        publish(envelope: currentEnvelope, version: current)
    }
}
