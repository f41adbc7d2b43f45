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
///
/// Both subjects are kept by JetStream streams (`BEN_<fleet>_ALARM`, `BEN_<fleet>_REVOKE`), which a node reads back
/// when it starts or its NATS connection comes back; at every start the ledger puts any revocation it keeps that the
/// revocation stream lacks back on it (a lost or recreated stream), each once. Gossip's digest names the revocations
/// too, so a node without NATS pulls the ones it lacks from a peer.
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

    /// The kept revocations' signed bytes, oldest first.
    var keptRevocationBytes: [[UInt8]] {
        revocations.revocations.compactMap { revocationEnvelopes[$0.keyID]?.canonicalBytes }
    }

    /// Creates (or updates in place) the alarm and revocation streams, then puts back on the revocation stream every
    /// kept revocation it lacks. Run at start, after the lease is won; running it again stores nothing twice.
    func prepareSignedStreams(_ connection: NATSConnection) async throws {
        let js = try connection.jetStream()
        for config in [
            NATSSubjects.alarmStreamConfig(configuration.fleet, replicas: configuration.replicas),
            NATSSubjects.revokeStreamConfig(configuration.fleet, replicas: configuration.replicas),
        ] {
            _ = try await js.createOrUpdateStream(config, neverLowerReplicas: true)
        }
        await republishRevocations(connection)
    }

    /// Every kept revocation the revocation stream does not hold, published to it (with JetStream's acknowledgement):
    /// a node that starts or reconnects reads them all back. Idempotent: what the stream holds is not sent again.
    func republishRevocations(_ connection: NATSConnection) async {
        let kept = keptRevocationBytes
        guard !kept.isEmpty else { return }
        let fleet = configuration.fleet
        do {
            let js = try connection.jetStream()
            let stored = Set(
                try await js.messages(stream: NATSSubjects.revokeStream(fleet), subject: NATSSubjects.revoke(fleet), limit: NATSSubjects.revokeHistory)
                    .map(\.payload))
            let missing = kept.filter { !stored.contains($0) }
            for bytes in missing { _ = try await js.publish(bytes, subject: NATSSubjects.revoke(fleet)) }
            logger.info(
                "revocations on the revocation stream", metadata: ["kept": "\(kept.count)", "republished": "\(missing.count)"])
        } catch {
            logger.error("cannot put the kept revocations back on the revocation stream; gossip still carries them", metadata: ["error": "\(error)"])
        }
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
            // Into gossip again, and onto the stream only if it lacks it (it is stored once).
            gossipSigned(envelope.canonicalBytes, kind: .revocation)
            if let nats { tasks.spawn { await self.republishRevocations(nats) } }
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
        // Gossip keeps them for good and names them in its digest, so a peer that lacks one pulls it.
        if let shell = gossip.shell {
            let state = gossipVersionState()
            tasks.spawn { await shell.update(state) }
        }
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
