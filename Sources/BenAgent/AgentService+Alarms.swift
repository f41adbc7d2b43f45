import BenCore
import BenCrypto
import BenFiles
import BenMetrics
import BenNATS
import BenProtocol
import Foundation
import Logging

/// The ledger's alarms and revocations on the agent's side (issue 16), over NATS (`ben.<fleet>.alarm`,
/// `ben.<fleet>.revoke`) and by gossip alike. Each is read and its signature checked here; the machine decides what
/// an alarm does, and `RevocationList` which revocation is taken. A taken revocation is written to the state
/// directory before the links and gossip start refusing the key. A taken alarm is kept too (`alarms.json`), so a
/// restart does not forget which versions were stopped.
///
/// Both subjects are kept by JetStream streams: each subscription is made first and the stream read back after, so
/// nothing published in between is missed; the streams are read again whenever the NATS connection comes back.
extension AgentService {
    /// `ben.<fleet>.alarm`: the ledger's signed alarms, the alarm stream's first.
    func followAlarms(_ connection: NATSConnection) async {
        await follow(NATSSubjects.alarm(configuration.fleet), naming: "alarms", on: connection) {
            await catchUpAlarms(connection)
        } take: { takeAlarm($0, via: "nats") }
    }

    /// `ben.<fleet>.revoke`: the ledger's signed revocations, every one the revocation stream keeps first.
    func followRevocations(_ connection: NATSConnection) async {
        await follow(NATSSubjects.revoke(configuration.fleet), naming: "revocations", on: connection) {
            await catchUpRevocations(connection)
        } take: { takeRevocation($0, via: "nats") }
    }

    /// Subscribes to `subject` first and catches up on its stream after, so nothing published in between is missed,
    /// then takes every message that arrives.
    private func follow(
        _ subject: String, naming what: String, on connection: NATSConnection, catchUp: () async -> Void, take: ([UInt8]) -> Void
    ) async {
        do {
            let subscription = try await connection.subscribe(subject: subject)
            try await connection.flush()
            await catchUp()
            for await message in subscription { take(message.payload) }
        } catch {
            logger.error("cannot follow \(what)", metadata: ["subject": "\(subject)", "error": "\(error)"])
        }
    }

    /// Reads both streams back (after a reconnect: what was sent while this node was away).
    func catchUpSigned(_ connection: NATSConnection) async {
        await catchUpRevocations(connection)
        await catchUpAlarms(connection)
    }

    /// Every revocation the revocation stream keeps, each taken as if it had just arrived (known ones change nothing).
    func catchUpRevocations(_ connection: NATSConnection) async {
        let fleet = configuration.fleet
        let stored = await storedMessages(
            naming: "revocation", stream: NATSSubjects.revokeStream(fleet), subject: NATSSubjects.revoke(fleet),
            limit: NATSSubjects.revokeHistory, on: connection)
        for message in stored { takeRevocation(message.payload, via: "stream") }
    }

    /// The alarms the alarm stream keeps that could still change something here (`AgentMachine.alarmMatters`): a
    /// version newer than the one this node runs, not stopped yet.
    func catchUpAlarms(_ connection: NATSConnection) async {
        let fleet = configuration.fleet
        let stored = await storedMessages(
            naming: "alarm", stream: NATSSubjects.alarmStream(fleet), subject: NATSSubjects.alarm(fleet),
            limit: NATSSubjects.alarmHistory, on: connection)
        for message in stored { takeAlarm(message.payload, via: "stream", onlyIfItMatters: true) }
    }

    /// The newest `limit` messages `stream` keeps of `subject`, oldest first; none when there is no stream yet (no
    /// ledger of this release has run) or JetStream is away: gossip still carries them.
    private func storedMessages(
        naming what: String, stream: String, subject: String, limit: Int, on connection: NATSConnection
    ) async -> [JetStream.StoredMessage] {
        do {
            return try await connection.jetStream().messages(stream: stream, subject: subject, limit: limit)
        } catch {
            logger.notice("no stored \(what) to catch up on", metadata: ["reason": "\(error)"])
            return []
        }
    }

    /// Reads an alarm, checks its signature, hands it to the machine, and keeps it on disk if the machine stopped its
    /// version because of it.
    func takeAlarm(_ bytes: [UInt8], via: String, onlyIfItMatters: Bool = false) {
        guard let (envelope, alarm) = readSigned(bytes, as: Alarm.self, via: via) else { return }
        if onlyIfItMatters && !machine.alarmMatters(alarm) { return }
        let wasStopped = machine.stopped.contains(alarm.version)
        handle(.alarm(IncomingAlarm(alarm, signature: Self.check(envelope, context: .alarm, trusted: configuration.trustedLedgerKeys))))
        guard !wasStopped, machine.stopped.contains(alarm.version) else { return }
        // Only alarms for versions newer than the one running can still matter; older ones are dropped from the file.
        let kept = alarmEnvelopes.filter { (try? $0.document(as: Alarm.self).version > machine.activeVersion) ?? false } + [envelope]
        do {
            try AlarmFile(stateDirectory: configuration.stateDirectory).save(kept)
            alarmEnvelopes = kept
        } catch {
            // Taken all the same: the alarm stream, or a peer's gossip, does not bring it back once taken.
            logger.error("cannot keep the alarm; a restart forgets it", metadata: ["ben.version": "\(alarm.version)", "error": "\(error)"])
        }
    }

    /// A signed document of the ledger's as it arrived `via` NATS, a stream or gossip; an unreadable one is logged and
    /// dropped.
    private func readSigned<D: CanonicalDocument>(_ bytes: [UInt8], as type: D.Type, via: String) -> (SignedEnvelope, D)? {
        do {
            return try SignedEnvelope.decode(bytes, as: type)
        } catch {
            logger.warning("unreadable \(D.documentName)", metadata: ["via": "\(via)", "error": "\(error)"])
            return nil
        }
    }

    /// Reads a revocation, checks its signature, and takes it if `RevocationList` says so: kept on disk first, then
    /// the peer links and gossip refuse the key.
    func takeRevocation(_ bytes: [UInt8], via: String) {
        guard let (envelope, revocation) = readSigned(bytes, as: Revocation.self, via: via) else { return }
        let check = Self.check(envelope, context: .revoke, trusted: configuration.trustedLedgerKeys)
        var list = revocations
        let metadata: Logger.Metadata = ["via": "\(via)", "peer.node": "\(revocation.node)", "keyid": "\(revocation.keyID)"]
        switch list.admit(revocation, signature: check, fleet: configuration.fleet, highestEpoch: machine.record.highestEpoch) {
        case .known:
            return
        case .refused(let reason):
            logger.warning("revocation ignored", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
            return
        case .added:
            break
        }
        do {
            var kept = revocationEnvelopes
            kept.append(envelope)
            try RevocationFile(stateDirectory: configuration.stateDirectory).save(kept)
            revocationEnvelopes = kept
        } catch {
            // Refused for now rather than held only in memory: the ledger's next send, or gossip, brings it again.
            logger.error("cannot keep the revocation; not taken", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return
        }
        revocations = list
        distrustRevokedKeys()
        // Gossip keeps it too and names it in its digest, so a peer that lacks it pulls it.
        tellGossip(after: nil)
        logger.warning("key revoked by the ledger; refused from now on", metadata: metadata.merging(["reason": "\(revocation.reason)"]) { $1 })
    }

    /// The peer links and gossip refuse the revoked keys from now on.
    func distrustRevokedKeys() {
        configuration.peerLink.security?.distrust(revocations)
        gossip.shell?.distrust(revocations)
        Metric.revokedKeys.set(revocations.count)
    }

    static func check(_ envelope: SignedEnvelope, context: SignatureContext, trusted: TrustedKeys) -> SignatureCheck {
        do {
            try envelope.verify(context: context, trusted: trusted)
            return .valid
        } catch {
            return .invalid(error.description)
        }
    }

    /// Logs an alarm's reports with their metadata, and counts those taken.
    func observeAlarm(_ report: PeerReport) -> Bool {
        switch report {
        case .alarmTaken(let version, let reason, let discarded):
            Metric.alarms.increment()
            logger.warning("alarm taken", metadata: ["ben.version": "\(version)", "reason": "\(reason)", "discarded": "\(discarded)"])
        case .alarmIgnored(let version, let reason):
            logger.notice("alarm ignored", metadata: ["ben.version": "\(version)", "reason": "\(reason)"])
        default:
            return false
        }
        return true
    }
}

/// The alarms that stopped a version on this agent (`alarms.json` in its state directory): their signed envelopes,
/// written whole or not at all, read back at start.
struct AlarmFile {
    let path: String

    init(stateDirectory: String) {
        path = stateDirectory + "/alarms.json"
    }

    /// The kept envelopes; nil when there is no file.
    func load() throws -> [SignedEnvelope]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let json = try JSONParser.parse(bytes, limits: .init(maxBytes: 4 << 20))
        return try (json.arrayValue ?? []).map { try SignedEnvelope(json: $0, document: "alarm") }
    }

    func save(_ envelopes: [SignedEnvelope]) throws {
        try AtomicFile.write(Array((try CanonicalJSON.string(.array(envelopes.map(\.json))) + "\n").utf8), to: path)
    }
}

/// The revocations this agent took (`revocations.json` in its state directory): their signed envelopes, written whole
/// or not at all, read back at start.
struct RevocationFile {
    let path: String

    init(stateDirectory: String) {
        path = stateDirectory + "/revocations.json"
    }

    /// The kept envelopes, each with its revocation; nil when there is no file.
    func load() throws -> [(SignedEnvelope, Revocation)]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let json = try JSONParser.parse(bytes, limits: .init(maxBytes: 16 << 20))
        return try (json.arrayValue ?? []).map { value in
            let envelope = try SignedEnvelope(json: value, document: "revocation")
            return (envelope, try envelope.document(as: Revocation.self))
        }
    }

    func save(_ envelopes: [SignedEnvelope]) throws {
        try AtomicFile.write(Array((try CanonicalJSON.string(.array(envelopes.map(\.json))) + "\n").utf8), to: path)
    }
}
