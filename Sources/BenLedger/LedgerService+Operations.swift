import BenCore
import BenCrypto
public import BenMetrics
import BenNATS
import BenPeerLink
import BenShell
import BenProtocol
import BenTopology

/// What an operator watches on the ledger (issue 18): readiness, the gauges read at each scrape, and the events
/// counted as the shell handles them. Each function here is called from one line in the shell.
extension LedgerService {
    // MARK: Health

    /// `/readyz`: NATS, the ledger's keys, and an applied topology (the node keys every ack is checked against).
    public func readiness() -> Readiness {
        return Readiness([
            .nats(nats, servers: configuration.natsServers),
            Readiness.Check(
                name: "keys", ok: !configuration.operators.isEmpty,
                detail: configuration.operators.isEmpty
                    ? "no operator key: pass --operator-key"
                    : "signing key \(configuration.key.publicKey.keyID) and \(configuration.operators.byID.count) operator key(s)"),
            Readiness.Check(
                name: "topology", ok: topology != nil && !nodeKeys.isEmpty,
                detail: topology.map { "\($0.topology.nodes.count) node keys from topology \($0.key.short)" }
                    ?? "no topology applied: `benctl topology apply FILE`"),
        ])
    }

    /// Sets the gauges a scrape reads (counters are kept as events happen).
    public func collectMetrics() {
        Metric.linksOpen.set(links.count)
        Metric.natsConnected.set(nats?.status == .connected ? 1 : 0)
        Metric.activeVersion.set(Int(machine.activeVersion?.rawValue ?? 0))
        var byState: [VersionStatus: Int] = [:]
        for record in machine.versions.values { byState[record.status, default: 0] += 1 }
        for state in VersionStatus.allCases { Metric.rollouts.set(byState[state] ?? 0, ["state": state.rawValue]) }
        let current = machine.deploying ?? machine.versions.values.filter { $0.deployment != nil }.map(\.version).max()
        let deployment = current.flatMap { machine.versions[$0]?.deployment }
        let active = deployment?.activeCount ?? 0
        let refused = deployment?.acks.values.filter { $0.status == .refused }.count ?? 0
        let required = deployment?.required.count ?? 0
        Metric.rolloutNodes.set(required, ["state": "required"])
        Metric.rolloutNodes.set(active, ["state": "active"])
        Metric.rolloutNodes.set(refused, ["state": "refused"])
        Metric.rolloutNodes.set(required - active - refused, ["state": "missing"])
        let fleet = fleetHeard()
        Metric.fleetNodes.set(fleet.current, ["state": "current"])
        Metric.fleetNodes.set(fleet.differing, ["state": "differing"])
        Metric.fleetNodes.set(fleet.silent, ["state": "silent"])
    }

    /// Topology nodes (not in maintenance) by what their heartbeats say, as `drift()` counts them.
    func fleetHeard() -> (current: Int, differing: Int, silent: Int) {
        guard let (topology, _) = topology else { return (0, 0, 0) }
        let fleetVersion = machine.activeVersion ?? .none
        let now = now()
        var counts = (current: 0, differing: 0, silent: 0)
        for node in topology.nodes where !node.maintenance {
            guard let heard = heartbeats[node.id], now - heard.receivedAt <= configuration.silentAfter else {
                counts.silent += 1
                continue
            }
            if heard.beat.active == fleetVersion { counts.current += 1 } else { counts.differing += 1 }
        }
        return counts
    }

    // MARK: Events

    /// Acks came back from the verifier: count them by status, and the rejected ones by reason.
    func countVerification(_ outcome: AckVerifier.Outcome) {
        var byStatus: [Ack.Status: Int] = [:]
        for (ack, _) in outcome.verified { byStatus[ack.status, default: 0] += 1 }
        for (status, count) in byStatus { Metric.acksVerified.increment(by: count, ["status": status.rawValue]) }
        for rejected in outcome.rejected {
            let reason =
                if let node = rejected.node {
                    if let key = nodeKeys[node] { revocations.refusal(keyID: key.keyID) == nil ? "bad_signature" : "revoked_key" } else { "unknown_node" }
                } else {
                    "no_node"
                }
            Metric.acksRejected.increment(["reason": reason])
        }
    }

    /// A peer link now goes to `node` (a seeder's child, or a node pulling from the store).
    func linkPeer(_ link: LinkID, _ node: NodeID) {
        operations.linkOpened(link, to: node)
    }

    func linkGone(_ link: LinkID) {
        operations.linkClosed(link)
    }

    /// A chunk of `bytes` was written on `link`.
    func countSent(_ link: LinkID, bytes: Int64) {
        let tier: String
        if let (topology, key) = topology {
            tier = operations.tiers(for: key) { TierMap(topology) }.tier(TierMap.ledger, operations.peer(of: link))
        } else {
            tier = TierMap.unknown
        }
        Metric.bytesSent.increment(by: Int(bytes), ["tier": tier])
    }
}
