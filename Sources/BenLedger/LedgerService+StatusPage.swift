public import BenCore
import BenPeerLink
import BenProtocol
import BenTopology
import GRDB

/// The read API behind the ledger's live status page (issue 18): one JSON document with everything the page shows,
/// and a cheap fingerprint that changes whenever that document would, so the page's feed sends a new document
/// only when there is something new.
///
/// The document is built for a person looking at a fleet of up to 10^5 nodes: locations are summed per rack for
/// the heat map, node states travel as one character per node, and the stripe trees as parent arrays (built once
/// per plan), so 10 000 nodes cost a few hundred kilobytes.
extension LedgerService {
    /// One character per node state on the page: active, refused, missing (with a reason), pending (no word yet,
    /// rollout still running), or not targeted.
    enum NodeState: Character {
        case active = "a"
        case refused = "r"
        case missing = "m"
        case pending = "p"
        case untargeted = "-"
    }

    /// Changes whenever `statusPage()` would: a version's state or acks, the topology, the fleet's heartbeats, the
    /// audit log.
    public func statusPageFingerprint() -> String {
        var parts: [String] = [configuration.fleet.rawValue, topology?.key.short ?? "-"]
        for version in machine.versions.keys.sorted() {
            let record = machine.versions[version]!
            let deployment = record.deployment
            parts.append(
                "\(version.rawValue):\(record.status.rawValue):\(record.changedAt.millisecondsSinceEpoch):"
                    + "\(deployment?.acks.count ?? -1):\(deployment?.hints.count ?? -1):\(deployment?.attempt ?? 0)")
        }
        let heard = fleetHeard()
        parts.append("\(heard.current)/\(heard.differing)/\(heard.silent)")
        parts.append("\((try? database.lastAuditSeq()) ?? 0)")
        return parts.joined(separator: " ")
    }

    /// Everything the status page shows, as one document (docs/operations.md, "The status page").
    public func statusPage() -> JSONValue {
        var page: [String: JSONValue] = [
            "fleet": .string(configuration.fleet.rawValue), "at": .string(now().rfc3339),
            "versions": versionsList(), "audit": auditTail(), "seed_listen": .string(configuration.seedListen.description),
        ]
        page["drift"] = (try? drift()) ?? .null
        guard let (topology, topologyKey) = topology else {
            page["topology"] = .null
            return .object(page)
        }
        page["topology"] = ["key": .string(topologyKey.hex), "nodes": .int(Int64(topology.nodes.count))]
        let current = machine.deploying ?? machine.versions.values.filter { $0.deployment != nil }.map(\.version).max()
        guard let version = current, let record = machine.versions[version], let deployment = record.deployment else {
            page["heat"] = heat(topology, states: [NodeState](repeating: .untargeted, count: topology.nodes.count))
            return .object(page)
        }
        let states = topology.nodes.map { state(of: $0.id, in: deployment, status: record.status) }
        page["heat"] = heat(topology, states: states)
        var counts: [NodeState: Int] = [:]
        for s in states { counts[s, default: 0] += 1 }
        page["rollout"] = [
            "version": .int(Int64(version.rawValue)), "status": .string(record.status.rawValue), "label": .string(record.label),
            "attempt": .int(Int64(deployment.attempt)), "required": .int(Int64(deployment.required.count)),
            "active": .int(Int64(counts[.active] ?? 0)), "refused": .int(Int64(counts[.refused] ?? 0)),
            "missing": .int(Int64(counts[.missing] ?? 0)), "pending": .int(Int64(counts[.pending] ?? 0)),
            "issued_at": .string(deployment.announcement.issuedAt.rfc3339), "deadline": .string(deployment.announcement.deadline.rfc3339),
            "changed_at": .string(record.changedAt.rfc3339), "bundle_size": .int(record.bundleSize),
            "ledger_egress": .int(egress[version] ?? 0), "messages": .int(Int64(messages[version] ?? 0)),
        ]
        var locations: [NodeID: String] = [:]
        var stateByID: [NodeID: NodeState] = [:]
        for (i, node) in topology.nodes.enumerated() {
            locations[node.id] = topology.location(of: i)
            stateByID[node.id] = states[i]
        }
        // Nodes still pending are not missing yet: the rollout is running and they may answer.
        let missing = deployment.missing.sorted { $0.key < $1.key }.filter { stateByID[$0.key] != .pending }
        page["missing"] = .array(
            missing.map {
                [
                    "node": .string($0.key.rawValue), "location": .string(locations[$0.key] ?? "?"), "code": .string($0.value.code.rawValue),
                    "detail": .string($0.value.detail),
                ]
            })
        let groups = DeploymentStatus.group(missing.map { DeploymentStatus.MissingNode(node: $0.key, location: locations[$0.key] ?? "?", reason: $0.value) })
        page["groups"] = .array(
            groups.map { ["location": .string($0.location), "code": .string($0.code.rawValue), "count": .int(Int64($0.count))] })
        page["suspects"] = .array(deployment.suspects.sorted { $0.key < $1.key }.map { ["node": .string($0.key.rawValue), "detail": .string($0.value)] })
        let planKey = deployment.announcement.plan
        if let trees = operations.trees(for: planKey, make: { treeView(planKey) }) {
            var withStates = trees.objectValue ?? [:]
            let planNodes = withStates["nodes"]?.arrayValue ?? []
            let text = planNodes.map { node in node.stringValue.flatMap(NodeID.init).flatMap { stateByID[$0] }?.rawValue ?? "-" }
            withStates["states"] = .string(String(text))
            page["trees"] = .object(withStates)
        }
        return .object(page)
    }

    func state(of node: NodeID, in deployment: DeploymentRecord, status: VersionStatus) -> NodeState {
        guard deployment.required.contains(node) else { return .untargeted }
        if let ack = deployment.acks[node], ack.status != .prepared { return ack.status == .active ? .active : .refused }
        if deployment.hints[node] != nil { return .missing }
        return status == .deploying ? .pending : .missing
    }

    /// Region → zone → rack, each rack with its nodes counted by state.
    func heat(_ topology: Topology, states: [NodeState]) -> JSONValue {
        var perRack = [[NodeState: Int]](repeating: [:], count: topology.racks.count)
        for (i, node) in topology.nodes.enumerated() { perRack[Int(node.rack)][states[i], default: 0] += 1 }
        var regions: [JSONValue] = []
        for region in topology.regions {
            var zones: [JSONValue] = []
            for z in region.zones {
                let zone = topology.zones[z]
                let racks: [JSONValue] = zone.racks.map { r in
                    let c = perRack[r]
                    return [
                        "rack": .string(topology.racks[r].name), "nodes": .int(Int64(c.values.reduce(0, +))),
                        "active": .int(Int64(c[.active] ?? 0)), "refused": .int(Int64(c[.refused] ?? 0)),
                        "missing": .int(Int64(c[.missing] ?? 0)), "pending": .int(Int64(c[.pending] ?? 0)),
                    ]
                }
                zones.append(["zone": .string(zone.name), "racks": .array(racks)])
            }
            regions.append(["region": .string(region.name), "zones": .array(zones)])
        }
        return .array(regions)
    }

    /// The plan's stripe trees as parent arrays over one node list, with a summary of each tree.
    func treeView(_ planKey: Key) -> JSONValue? {
        guard let plan = try? Plan.decode(try store.get(planKey)) else { return nil }
        var summaries: [JSONValue] = []
        for s in 0..<plan.stripeCount {
            let depths = plan.depths(stripe: s) ?? []
            var levels: [Int64] = []
            for d in depths {
                while levels.count < d { levels.append(0) }
                if d > 0 { levels[d - 1] += 1 }
            }
            let children = plan.children(stripe: s)
            summaries.append([
                "stripe": .int(Int64(s)), "depth": .int(Int64(depths.max() ?? 0)), "fan_out": .int(Int64(children[plan.nodes.count].count)),
                "relays": .int(Int64(children.dropLast().filter { !$0.isEmpty }.count)), "levels": .array(levels.map { .int($0) }),
            ])
        }
        return [
            "plan": .string(planKey.hex), "stripes": .array(summaries), "nodes": .array(plan.nodes.map { .string($0.id.rawValue) }),
            "parents": .array(plan.stripes.map { .array($0.map { .int(Int64($0)) }) }),
        ]
    }

    /// The last entries of the audit log, newest first.
    func auditTail(_ count: Int = 100) -> JSONValue {
        let entries = (try? database.latestAuditEntries(count)) ?? []
        return .array(
            entries.map {
                [
                    "seq": .int($0.seq), "at": .string($0.at.rfc3339), "kind": .string($0.kind), "operator": .string($0.operatorKey),
                    "detail": $0.detail,
                ]
            })
    }
}

extension LedgerDatabase {
    /// The sequence number of the last audit entry (0: none).
    func lastAuditSeq() throws -> Int64 {
        try queue.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM audit") ?? 0 }
    }

    /// The last `count` audit entries, newest first.
    func latestAuditEntries(_ count: Int) throws -> [AuditEntry] {
        let last = try lastAuditSeq()
        return try auditEntries(after: max(0, last - Int64(count)), limit: count).reversed()
    }
}
