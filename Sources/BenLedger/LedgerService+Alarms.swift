import BenCore
import BenCrypto
import BenMetrics
import BenNATS
import BenProtocol
import BenShell
import Logging

/// The ledger's alarms and revocations (issue 16): documents it signs under its epoch and sends out twice, on NATS
/// and into gossip, so a node cut off from NATS hears them too. An alarm goes out when a rollout is aborted (the
/// deployment machine asks for it); a revocation when an operator asks (`benctl revoke`). The decisions are the
/// machines' and `RevocationList`'s; this carries them out.
extension LedgerService {
    // MARK: Alarms

    /// Signs the alarm under this ledger's epoch and publishes it on `ben.<fleet>.alarm` and into gossip.
    func publish(_ alarm: Alarm) {
        guard mayAct("publish the alarm for \(alarm.version)") else { return }
        var alarm = alarm
        alarm.epoch = epoch
        let bytes = configuration.key.envelope(alarm, context: .alarm).canonicalBytes
        logger.notice("alarm", metadata: ["ben.version": "\(alarm.version)", "reason": "\(alarm.reason)"])
        sendSigned(bytes, kind: .alarm, subject: NATSSubjects.alarm(configuration.fleet), what: "the alarm for \(alarm.version)")
    }

    // MARK: Revocations

    /// The setting that keeps every revocation the ledger signed (a JSON array of their envelopes).
    static let revocationsSetting = "revocations"

    /// Reads back the revocations signed before a restart, and distrusts their keys at once.
    func loadRevocations() {
        guard let text = try? database.setting(Self.revocationsSetting), let json = try? JSONParser.parse(Array(text.utf8)) else { return }
        var list: [Revocation] = []
        for value in json.arrayValue ?? [] {
            guard let envelope = try? SignedEnvelope(json: value, document: "revocation"),
                let revocation = try? envelope.open(Revocation.self, context: .revoke, trusted: TrustedKeys([configuration.key.publicKey]))
            else {
                logger.warning("a kept revocation does not verify under this ledger's key; skipped")
                continue
            }
            list.append(revocation)
            revocationEnvelopes[revocation.keyID] = envelope
        }
        revocations = RevocationList(list)
        distrustRevokedKeys()
    }

    /// `revoke`: distrust node `node`'s key (its topology key unless `keyid` names another), signed, kept, audited,
    /// and sent to every node on NATS and by gossip. Revoking a key again sends the same revocation again.
    func revoke(args: JSONValue) throws -> JSONValue {
        guard let text = args["node"]?.stringValue, let node = NodeID(text) else { throw APIError("revoke needs a node id") }
        let reason = args["reason"]?.stringValue ?? ""
        guard !reason.isEmpty else { throw APIError("revoke needs a reason (--reason), kept in the audit log and sent with it") }
        let keyID: String
        if let given = args["keyid"]?.stringValue {
            guard Signature.isKeyID(given) else { throw APIError("--key-id must be a key id: 16 lowercase hex digits, as signatures name keys") }
            keyID = given
        } else if let key = nodeKeys[node] {
            keyID = key.keyID
        } else {
            throw APIError("\(node) is not in the topology in force; name the key with --key-id")
        }
        if let known = revocations.byKeyID[keyID], let envelope = revocationEnvelopes[keyID] {
            sendSigned(envelope.canonicalBytes, kind: .revocation, subject: NATSSubjects.revoke(configuration.fleet), what: "the revocation of \(keyID)")
            return ["node": .string(known.node.rawValue), "keyid": .string(keyID), "revoked": .string("already"), "issued_at": .string(known.issuedAt.rfc3339)]
        }
        let revocation = Revocation(fleet: configuration.fleet, epoch: epoch, node: node, keyID: keyID, reason: reason, issuedAt: now())
        let envelope = configuration.key.envelope(revocation, context: .revoke)
        guard case .added = revocations.admit(revocation, signature: .valid, fleet: configuration.fleet, highestEpoch: 0) else {
            throw APIError("the revocation of \(keyID) was not taken")
        }
        revocationEnvelopes[keyID] = envelope
        let kept = revocations.revocations.compactMap { revocationEnvelopes[$0.keyID]?.json }
        do {
            try database.setSetting(Self.revocationsSetting, try CanonicalJSON.string(.array(kept)))
        } catch {
            throw APIError("cannot keep the revocation: \(error); nothing was sent")
        }
        audit("revoke", detail: ["node": .string(node.rawValue), "keyid": .string(keyID), "reason": .string(reason)])
        logger.notice("key revoked", metadata: ["ben.node": "\(node)", "keyid": "\(keyID)", "reason": "\(reason)"])
        distrustRevokedKeys()
        sendSigned(envelope.canonicalBytes, kind: .revocation, subject: NATSSubjects.revoke(configuration.fleet), what: "the revocation of \(keyID)")
        return ["node": .string(node.rawValue), "keyid": .string(keyID), "revoked": .string("now"), "issued_at": .string(revocation.issuedAt.rfc3339)]
    }

    /// The ledger's own peer links and gossip refuse the revoked keys too (acks are checked against them in
    /// `ingest`).
    func distrustRevokedKeys() {
        let list = revocations
        configuration.peerLink.security?.distrust(list)
        gossip.shell?.distrust(list)
        Metric.revokedKeys.set(list.count)
    }

    // MARK: Sending

    /// A signed document out on `subject` and into the broadcast tree.
    func sendSigned(_ bytes: [UInt8], kind: DocumentKind, subject: String, what: String) {
        gossipSigned(bytes, kind: kind)
        guard let nats else { return }
        let logger = logger
        tasks.spawn {
            do {
                try await nats.publish(bytes, subject: subject)
                try await nats.flush()
            } catch {
                logger.error("cannot publish \(what) on NATS; gossip still carries it", metadata: ["error": "\(error)"])
            }
        }
    }
}
