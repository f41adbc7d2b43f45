import BenCore
import BenCrypto
public import BenMetrics
import BenNATS
import BenPeerLink
import BenShell
import BenProtocol
import Logging

/// What an operator watches on an agent (issue 18): readiness, the gauges read at each scrape, and the events
/// counted and logged as the shell carries out the machine's actions. Each function here is called from one
/// line in the shell, so the shell's own code stays about the protocol.
extension AgentService {
    // MARK: Health

    /// `/readyz`: NATS, the keys, and a verified version this node serves.
    public func readiness() -> Readiness {
        let serving = holder.current?.version
        return Readiness([
            .nats(nats, servers: configuration.natsServers),
            Readiness.Check(
                name: "keys", ok: !configuration.trustedLedgerKeys.isEmpty,
                detail: configuration.trustedLedgerKeys.isEmpty
                    ? "no trusted ledger key: pass --ledger-key"
                    : "node key and \(configuration.trustedLedgerKeys.byID.count) trusted ledger key(s)"
                        + (revocations.count == 0 ? "" : "; \(revocations.count) node key(s) revoked by the ledger")),
            Readiness.Check(
                name: "version", ok: serving != nil,
                detail: serving.map { "serves \($0)" } ?? "no verified version yet: waiting for a rollout to reach this node"),
        ])
    }

    /// Sets the gauges a scrape reads (counters and histograms are kept as events happen).
    public func collectMetrics() {
        Metric.activeVersion.set(Int(holder.current?.version.rawValue ?? 0))
        Metric.linksOpen.set(links.count)
        Metric.natsConnected.set(nats?.status == .connected ? 1 : 0)
        Metric.revokedKeys.set(revocations.count)
    }

    // MARK: Events

    /// A chunk arrived from `sender` (nil: not introduced yet).
    func countReceived(_ bytes: Int, from sender: NodeID?) {
        Metric.bytesReceived.increment(by: bytes, ["tier": configuration.tiers.tier(sender, configuration.node)])
    }

    /// A chunk frame was written on `link`.
    func countSent(_ link: LinkID, chunk index: Int) {
        let tier = configuration.tiers.tier(configuration.node, peerOfLink[link])
        Metric.bytesSent.increment(by: operations.bytesOfChunk(index), ["tier": tier])
    }

    /// The machine asked for a compile (the bundle is complete and verified): the swap latency starts here.
    func compileStarting(_ version: Version) {
        operations.compileStarted(version.rawValue)
    }

    /// The version was swapped in.
    func swapDone(_ version: Version) {
        if let elapsed = operations.swapped(version.rawValue) { Metric.swapLatency.record(elapsed) }
    }

    /// Times one evaluation of the active intent.
    nonisolated func timedEvaluation<T>(role: Role, _ body: () throws -> T) rethrows -> T {
        let start = ContinuousClock.now
        defer { Metric.evaluationLatency.record(ContinuousClock.now - start, ["role": role.rawValue]) }
        return try body()
    }

    /// An aggregate leaves this node: up the ack tree on `link`, or over NATS when `link` is nil. Logs "aggregate
    /// sent" and, when it carries this node's own ack, "ack sent", at info level.
    func aggregateSent(_ aggregate: Aggregate, on link: LinkID?) {
        let via = link == nil ? "nats" : "link"
        var metadata: Logger.Metadata = [
            "ben.version": "\(aggregate.version)", "via": "\(via)", "acks": "\(aggregate.acks.count)",
            "missing": "\(aggregate.missing.count)",
        ]
        if let link, let parent = peerOfLink[link] { metadata["peer.node"] = "\(parent)" }
        if aggregate.orphaned { metadata["orphaned"] = "true" }
        Metric.aggregatesSent.increment(["via": via])
        if let own = aggregate.acks.first(where: { $0.signed["node"]?.stringValue == configuration.node.rawValue }) {
            let status = own.signed["status"]?.stringValue ?? "?"
            var ackMetadata = metadata
            ackMetadata["status"] = "\(status)"
            if let reason = own.signed["reason"]?.stringValue, !reason.isEmpty { ackMetadata["reason"] = "\(reason)" }
            ackMetadata["acks"] = nil
            ackMetadata["missing"] = nil
            logger.info("ack sent", metadata: ackMetadata)
            Metric.acksSent.increment(["status": status, "via": via])
        }
        logger.info("aggregate sent", metadata: metadata)
    }

    /// Counts a report, and logs those an operator greps for with their metadata, at info (an adoption, a refusal)
    /// or warning (a stalled stripe). Returns true if it logged the report itself (the shell's plain line is then
    /// not written).
    func observe(_ report: PeerReport) -> Bool {
        switch report {
        case .tamperedChunk:
            Metric.chunksRefused.increment(["reason": "tampered_chunk"])
        case .tamperedManifest:
            Metric.chunksRefused.increment(["reason": "tampered_manifest"])
        case .backlogHandedOff(_, let chunks, _):
            Metric.handOffs.increment()
            Metric.handOffChunks.increment(by: chunks)
        case .announcementRefused(_, let reason):
            Metric.announcementsRefused.increment(["reason": reason.code])
        case .activated:
            Metric.activations.increment()
        case .childUnreachable(let child, let reason, let adopted):
            Metric.adoptions.increment()
            // The report's own sentence ("child X unreachable (…); adopted Y, Z") stays the message, as before; the
            // metadata says the same for machines.
            logger.info(
                "\(report)",
                metadata: [
                    "event": "parent adopted",
                    "peer.node": "\(child)", "reason": "\(reason)", "adopted": "\(adopted.map(\.rawValue).joined(separator: ","))",
                    "ben.version": "\(machine.current.map { "\($0.version)" } ?? "-")",
                ])
            return true
        case .refused(let version, let reason):
            logger.info("\(report)", metadata: ["event": "refusal", "ben.version": "\(version)", "reason": "\(reason)"])
            return true
        case .stripeStalled(let stripe, let missing):
            logger.warning("stripe stalled; fetching its chunks elsewhere", metadata: ["stripe": "\(stripe)", "missing": "\(missing)"])
            return true
        case .aggregateSent:
            // The shell's "aggregate sent" line, with its metadata, says this already.
            return true
        case .announcementAccepted, .orphaned, .superseded, .protocolViolation, .answeredAgain, .childDeadButMoving:
            break
        case .prepared, .activationAccepted, .activationIgnored, .swappedAtBarrier:
            return observeTwoPhase(report)
        case .alarmTaken, .alarmIgnored:
            return observeAlarm(report)
        }
        return false
    }
}

extension AnnouncementRefusal {
    /// The reason as a label value (`ben_announcements_refused_total{reason}`).
    var code: String {
        switch self {
        case .badSignature: "bad_signature"
        case .otherFleet: "other_fleet"
        case .notNewer: "not_newer"
        case .rollback: "rollback"
        case .conflictingManifest: "conflicting_manifest"
        case .expired: "expired"
        case .malformed: "malformed"
        case .staleEpoch: "stale_epoch"
        }
    }
}
