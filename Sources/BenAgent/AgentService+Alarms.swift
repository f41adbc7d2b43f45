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
/// directory before the links and gossip start refusing the key.
extension AgentService {
    /// `ben.<fleet>.alarm`: the ledger's signed alarms.
    func followAlarms(_ connection: NATSConnection) async {
        let subject = NATSSubjects.alarm(configuration.fleet)
        do {
            let subscription = try await connection.subscribe(subject: subject)
            for await message in subscription {
                if let incoming = readAlarm(message.payload) { handle(.alarm(incoming)) }
            }
        } catch {
            logger.error("cannot follow alarms", metadata: ["subject": "\(subject)", "error": "\(error)"])
        }
    }

    /// `ben.<fleet>.revoke`: the ledger's signed revocations.
    func followRevocations(_ connection: NATSConnection) async {
        let subject = NATSSubjects.revoke(configuration.fleet)
        do {
            let subscription = try await connection.subscribe(subject: subject)
            for await message in subscription { takeRevocation(message.payload, via: "nats") }
        } catch {
            logger.error("cannot follow revocations", metadata: ["subject": "\(subject)", "error": "\(error)"])
        }
    }

    func readAlarm(_ bytes: [UInt8]) -> IncomingAlarm? {
        do {
            let envelope = try SignedEnvelope.decode(bytes, document: "alarm", maxBytes: Alarm.maxBytes)
            let alarm = try envelope.document(as: Alarm.self)
            return IncomingAlarm(alarm: alarm, signature: Self.check(envelope, context: .alarm, trusted: configuration.trustedLedgerKeys))
        } catch {
            logger.warning("unreadable alarm", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Reads a revocation, checks its signature, and takes it if `RevocationList` says so: kept on disk first, then
    /// the peer links and gossip refuse the key.
    func takeRevocation(_ bytes: [UInt8], via: String) {
        let envelope: SignedEnvelope
        let revocation: Revocation
        do {
            envelope = try SignedEnvelope.decode(bytes, document: "revocation", maxBytes: Revocation.maxBytes)
            revocation = try envelope.document(as: Revocation.self)
        } catch {
            logger.warning("unreadable revocation", metadata: ["via": "\(via)", "error": "\(error)"])
            return
        }
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
