import BenCore
import BenCrypto
import BenMetrics
import BenNATS
import BenPeerLink
import BenProtocol
import Logging

extension LedgerService {
    /// An aggregate reached the ledger (from a first-level node, or over NATS from an orphan or a relay whose
    /// parent link was gone). The relay's claims about missing nodes count only under its own signature
    /// (`vouched`); the acks and tamper reports inside are each signed by their own node and are verified on
    /// every core, off this actor: only those that verify reach the deployment machine.
    func ingest(_ aggregate: Aggregate) {
        guard aggregate.fleet == configuration.fleet else {
            logger.warning("aggregate for another fleet ignored", metadata: ["fleet": "\(aggregate.fleet)"])
            return
        }
        let version = aggregate.version
        if !aggregate.missing.isEmpty {
            perform(machine.onMissingReports(version, aggregate.missing, from: aggregate.relay))
            if let record = machine.versions[version] { perform([.persist(record)]) }
        }
        guard !aggregate.acks.isEmpty || !aggregate.reports.isEmpty else { return }
        let keys = nodeKeys
        let revoked = revocations
        tasks.spawn {
            let outcome = AckVerifier.verify(aggregate.acks, keys: keys, revoked: revoked)
            let reports = AckVerifier.verifyReports(aggregate.reports, keys: keys)
            await self.verified(outcome, relay: aggregate.relay, orphaned: aggregate.orphaned)
            await self.verifiedReports(reports, version: version)
        }
    }

    /// What a relay says about other nodes is its own word: it counts only when the aggregate carries the
    /// relay's signature (`ben/aggregate/v1`, checked against the topology's key for it) and, on a peer link,
    /// when the relay is the link's authenticated peer. Otherwise the claims are dropped and logged; the acks and
    /// tamper reports inside still count on their own signatures.
    func vouched(_ aggregate: Aggregate, envelope: SignedEnvelope?, carriedBy peer: NodeID?) -> Aggregate {
        guard !aggregate.missing.isEmpty else { return aggregate }
        let problem: String?
        if let envelope, let key = nodeKeys[aggregate.relay] {
            if let revoked = revocations.refusal(keyID: key.keyID) {
                problem = "\(aggregate.relay)'s key is revoked (\(revoked))"
            } else if let peer, peer != aggregate.relay {
                problem = "it names \(aggregate.relay) as its sender but came on \(peer)'s link"
            } else {
                do {
                    _ = try envelope.verify(context: .aggregate, trusted: TrustedKeys([key]))
                    problem = nil
                } catch {
                    problem = "its signature does not verify with \(aggregate.relay)'s key (\(error))"
                }
            }
        } else {
            problem = envelope == nil ? "it is not signed" : "\(aggregate.relay) is not in the topology"
        }
        guard let problem else { return aggregate }
        logger.warning(
            "claims about missing nodes ignored", metadata: ["ben.version": "\(aggregate.version)", "relay": "\(aggregate.relay)", "reason": "\(problem)"])
        Metric.claimsIgnored.increment()
        var stripped = aggregate
        stripped.missing = []
        return stripped
    }

    func verifiedReports(_ reports: [TamperReport], version: Version) {
        guard !reports.isEmpty, mayAct("record tamper reports") else { return }
        perform(machine.onTamperReports(version, reports))
        if let record = machine.versions[version] { perform([.persist(record)]) }
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
        let actions = machine.onAcks(outcome.verified.map(\.ack), now: now())
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
                let (aggregate, envelope) = try Aggregate.read(message.payload)
                countMessage(aggregate.version)
                ingest(vouched(aggregate, envelope: envelope, carriedBy: nil))
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
            heartbeats[beat.node] = ReceivedHeartbeat(beat: beat, receivedAt: now())
            if beat.alerts > 0 { alertsReported(beat) }
        }
    }
}

/// A node's heartbeat and when the ledger received it (the ledger's clock).
struct ReceivedHeartbeat: Sendable {
    var beat: Heartbeat
    var receivedAt: Timestamp

    /// The heartbeat as `Liveness` judges it: the node's time and the ledger's time of receipt.
    var heard: Liveness.Heard { Liveness.Heard(nodeTime: beat.at, receivedAt: receivedAt) }

    /// How far the node's clock is from the ledger's: its timestamp minus the time the ledger received it
    /// (positive: the node's clock runs ahead). Includes the heartbeat's transit time, a few milliseconds.
    var offset: Duration { heard.offset }
}
