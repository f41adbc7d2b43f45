import BenCore
import BenCrypto
import BenNATS
import Logging
import Synchronization

/// One ledger per fleet (DESIGN §9, "Lease and epoch").
///
/// The serving ledger holds a lease: the JetStream key-value entry `ben_<fleet>_ledger/leader`, whose bucket
/// keeps a value for the lease's TTL after each write. A ledger wins it by creating the entry (create-if-absent)
/// and keeps it by rewriting it with compare-and-set on the revision it last wrote, every third of the TTL. The
/// revision that won is its **epoch**: every announcement it signs and every answer that changes state carries
/// it, and nodes refuse announcements from an older epoch.
///
/// The ledger acts (publishes, records acks, answers the API, persists) only while its last successful write is
/// less than nine tenths of the TTL old. A renewal refused because someone else wrote the entry, or one it
/// cannot make before that margin runs out, means it lost the lease: it stops acting and `run()` throws, so the
/// process exits non-zero.
extension LedgerService {
    nonisolated var leaseBucket: KeyValueConfig {
        var config = KeyValueConfig(bucket: NATSSubjects.ledgerBucket(configuration.fleet))
        config.description = "Ben: the ledger lease of fleet \(configuration.fleet.rawValue)"
        config.ttl = configuration.leaseTTL
        config.replicas = configuration.replicas
        return config
    }

    nonisolated func leaseValue(epoch: UInt64) -> LeaseValue {
        LeaseValue(ledger: configuration.name, seed: configuration.seedListen.description, ttl: configuration.leaseTTL, epoch: epoch)
    }

    /// Wins the fleet's lease. If another ledger holds it, throws `leaseHeld` naming that ledger and until when
    /// its lease runs, or with `standby` waits until the lease lapses (its holder stopped renewing) and takes it.
    func acquireLease(_ connection: NATSConnection) async throws -> KeyValue {
        let kv = try await connection.jetStream().keyValue(leaseBucket)
        let key = NATSSubjects.leaseKey
        var reported: String?
        while true {
            try Task.checkCancellation()
            let started = ContinuousClock.now
            if let revision = try await compareAndSet(kv, lastRevision: nil, epoch: 0) {
                wonLease(revision: revision, at: started)
                return kv
            }
            guard let entry = try await kv.get(key) else { continue }  // it lapsed just now: try again
            guard let holder = LeaseValue(bytes: entry.value) else {
                // Released by a ledger that stopped gracefully: take it over its revision.
                if let revision = try await compareAndSet(kv, lastRevision: entry.revision, epoch: 0) {
                    wonLease(revision: revision, at: started)
                    return kv
                }
                continue
            }
            let until = Timestamp(millisecondsSinceEpoch: entry.createdNanoseconds / 1_000_000) + holder.ttl
            let who = "ledger \(holder.ledger) (seed \(holder.seed), epoch \(holder.epoch == 0 ? entry.revision : holder.epoch))"
            guard configuration.standby else {
                throw LedgerError.leaseHeld(
                    "fleet \(configuration.fleet) is served by \(who), whose lease runs until \(until) unless renewed; "
                        + "this ledger does not serve. Start it with --standby to take over when that lease lapses")
            }
            if reported != holder.ledger {
                logger.notice("standing by: another ledger holds the lease", metadata: ["holder": "\(who)", "until": "\(until)"])
                reported = holder.ledger
            }
            try await Task.sleep(for: min(configuration.leaseTTL / 4, .seconds(1)))
        }
    }

    /// Writes this ledger's lease value: create-if-absent (`lastRevision` nil) or compare-and-set on
    /// `lastRevision`. Returns the new revision, or nil when another write got there first.
    nonisolated func compareAndSet(_ kv: KeyValue, lastRevision: UInt64?, epoch: UInt64) async throws -> UInt64? {
        let value = leaseValue(epoch: epoch).bytes
        do {
            if let lastRevision {
                return try await kv.update(NATSSubjects.leaseKey, value: value, lastRevision: lastRevision)
            }
            return try await kv.create(NATSSubjects.leaseKey, value: value)
        } catch {
            if error.code == .wrongRevision { return nil }
            throw error
        }
    }

    nonisolated func wonLease(revision: UInt64, at started: ContinuousClock.Instant) {
        leaseState.withLock { $0 = HeldLease(epoch: revision, revision: revision, validUntil: started + configuration.leaseTTL * 0.9) }
        logger.notice("won the ledger lease", metadata: ["epoch": "\(revision)", "ttl": "\(configuration.leaseTTL)"])
    }

    /// The lease as this ledger knows it.
    nonisolated var lease: HeldLease? { leaseState.withLock { $0 } }

    /// Renews the lease every third of its TTL until the ledger stops, and throws `leaseLost` once it cannot. It
    /// runs off the actor: a renewal never waits for the ledger's other work.
    nonisolated func keepLease(_ kv: KeyValue) async throws {
        let key = NATSSubjects.leaseKey
        let every = configuration.leaseTTL / 3
        var next = ContinuousClock.now + every
        while true {
            try await Task.sleep(until: next, clock: .continuous)
            guard let held = lease else { return }
            if let lost = held.lost { throw LedgerError.leaseLost(lost) }
            let started = ContinuousClock.now
            let outcome: Result<UInt64?, any Error>
            do {
                outcome = .success(try await compareAndSet(kv, lastRevision: held.revision, epoch: held.epoch))
            } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let revision?):
                renewedLease(revision: revision, at: started)
                next = started + every
            case .success(nil):
                let entry = try? await kv.get(key)
                let holder = entry.flatMap { $0 }.flatMap { entry in
                    LeaseValue(bytes: entry.value).map { "ledger \($0.ledger) (epoch \($0.epoch == 0 ? entry.revision : $0.epoch))" }
                }
                let reason = holder.map { "the lease of epoch \(held.epoch) was taken over by \($0)" } ?? "the lease of epoch \(held.epoch) lapsed"
                loseLease(reason)
                throw LedgerError.leaseLost(reason)
            case .failure(let error):
                guard lease?.isValid == true else {
                    let reason = "cannot renew the lease of epoch \(held.epoch) before it runs out: \(error)"
                    loseLease(reason)
                    throw LedgerError.leaseLost(reason)
                }
                logger.warning("cannot renew the ledger lease; retrying", metadata: ["error": "\(error)"])
                next = ContinuousClock.now + .milliseconds(250)
            }
        }
    }

    nonisolated func renewedLease(revision: UInt64, at started: ContinuousClock.Instant) {
        let validUntil = started + configuration.leaseTTL * 0.9
        leaseState.withLock { held in
            guard held != nil, held?.lost == nil else { return }
            held?.revision = revision
            held?.validUntil = validUntil
        }
    }

    /// The ledger knows it lost the lease: it never acts again, and `keepLease` ends the process.
    nonisolated func loseLease(_ reason: String) {
        let epoch: UInt64? = leaseState.withLock { held in
            guard let current = held, current.lost == nil else { return nil }
            held?.lost = reason
            return current.epoch
        }
        guard let epoch else { return }
        logger.critical("lost the ledger lease; this ledger stops serving", metadata: ["reason": "\(reason)", "epoch": "\(epoch)"])
    }

    /// Whether this ledger may change state or answer now: it holds a lease that has not run out. Every
    /// state-changing path asks first; a ledger that may not act drops the work (its successor does it).
    nonisolated func mayAct(_ what: @autoclosure () -> String) -> Bool {
        if lease?.isValid == true { return true }
        if lease?.lost == nil, lease != nil {
            logger.warning("not acting: the ledger lease is not renewed", metadata: ["action": "\(what())"])
        }
        return false
    }

    /// The epoch this ledger serves under (0 before it won the lease).
    nonisolated var epoch: UInt64 { lease?.epoch ?? 0 }

    /// On a graceful stop, hands the lease back (an empty value, written over its own revision), so a successor
    /// need not wait for the TTL.
    func releaseLease(_ kv: KeyValue) async {
        let released: HeldLease? = leaseState.withLock { held in
            defer { held = nil }
            return held
        }
        guard let held = released, held.isValid else { return }
        do {
            _ = try await kv.update(NATSSubjects.leaseKey, value: [], lastRevision: held.revision)
            logger.notice("released the ledger lease", metadata: ["epoch": "\(held.epoch)"])
        } catch {
            logger.warning("cannot release the ledger lease; a successor waits for it to lapse", metadata: ["error": "\(error)"])
        }
    }

    /// Signs `announcement` under this ledger's epoch (the deployment machine knows nothing of leases).
    func signUnderEpoch(_ announcement: Announcement) -> (Announcement, [UInt8]) {
        var announcement = announcement
        announcement.epoch = epoch
        return (announcement, configuration.key.envelope(announcement, context: .announce).canonicalBytes)
    }

    /// A new lease holder signs again, under its epoch, the latest announcement and every rollout still in
    /// progress, and publishes the latest: every node learns the new epoch at once (and from JetStream when it
    /// comes back), so nothing signed under an older epoch is taken afterwards. A node already running it refuses
    /// it as not newer and keeps the epoch.
    func announceEpoch() {
        let latest = machine.highestAnnounced
        for (version, record) in machine.versions.sorted(by: { $0.key < $1.key }) {
            guard let deployment = record.deployment, version == latest || record.status == .deploying else { continue }
            let (_, envelope) = signUnderEpoch(deployment.announcement)
            announcements[version] = envelope
            try? database.setSetting("announcement.\(version.rawValue)", Hex.encode(envelope))
            if version == latest { publish(envelope: envelope, version: version) }
        }
    }
}
