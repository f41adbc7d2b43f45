public import BenCore
import BenTopology

/// Everything one `ben-sim run` found: the flow engine's figures per strategy, and the protocol engine's
/// outcome when the scenario asked for it. Written as JSON, CSV and a self-contained HTML page.
public struct SimReport: Sendable {
    public var flow: FlowReport
    public var protocolOutcome: ProtocolOutcome?

    public init(flow: FlowReport, protocolOutcome: ProtocolOutcome? = nil) {
        self.flow = flow
        self.protocolOutcome = protocolOutcome
    }

    // MARK: JSON

    /// The report as JSON. Wall times are left out unless `includeWallTimes`, so that the same scenario and
    /// seed give the same bytes.
    public func json(includeWallTimes: Bool = false) -> JSONValue {
        let f = flow
        var object: [String: JSONValue] = [
            "format": .string("ben/sim-report/v1"),
            "scenario": .string(f.scenario),
            "description": .string(f.description),
            "seed": .int(Int64(bitPattern: f.seed)),
            "nodes": .int(Int64(f.nodes)),
            "bundle_size": .int(f.bundleSize),
            "chunk_size": .int(f.chunkSize),
            "planned_stripes": .int(Int64(f.plannedStripes)),
            "uplink_bytes_per_second": .double(f.uplink),
            "optimal_seconds": .double(f.optimal),
            "faults": .array(f.faults.map { .string($0) }),
            "strategies": .array(f.strategies.map { s in
                var entry: [String: JSONValue] = [
                    "strategy": .string(s.strategy.rawValue),
                    "baseline": s.baseline.json(includeWallTimes: includeWallTimes),
                    "fault_effects": .array(s.effects.map(\.json)),
                ]
                if let faulted = s.faulted { entry["with_faults"] = faulted.json(includeWallTimes: includeWallTimes) }
                return .object(entry)
            }),
        ]
        if let p = protocolOutcome { object["protocol"] = p.json(includeWallTimes: includeWallTimes) }
        return .object(object)
    }

    public func jsonText(includeWallTimes: Bool = false) -> String {
        (try? CanonicalJSON.string(json(includeWallTimes: includeWallTimes))) ?? "{}"
    }

    // MARK: CSV

    /// One row per strategy and run (baseline, with faults), then the CDF points, then the fault effects.
    public var csv: String {
        var out = "section,strategy,run,field,value\n"
        func row(_ section: String, _ strategy: String, _ run: String, _ field: String, _ value: String) {
            out += [section, strategy, run, field, value].map(csvField).joined(separator: ",") + "\n"
        }
        for s in flow.strategies {
            for summary in [s.baseline] + (s.faulted.map { [$0] } ?? []) {
                for (field, value) in summary.figures(optimal: flow.optimal) { row("summary", s.strategy.rawValue, summary.label, field, value) }
                for point in summary.stats.cdf {
                    row("cdf", s.strategy.rawValue, summary.label, csvNumber(point.seconds), csvNumber(point.fraction))
                }
            }
            for effect in s.effects {
                row("fault", s.strategy.rawValue, effect.fault, "nodes_delayed", "\(effect.nodesDelayed)")
                row("fault", s.strategy.rawValue, effect.fault, "nodes_lost", "\(effect.nodesLost)")
                row("fault", s.strategy.rawValue, effect.fault, "max_seconds_added", csvNumber(effect.maxSecondsAdded))
                row("fault", s.strategy.rawValue, effect.fault, "mean_seconds_added", csvNumber(effect.meanSecondsAdded))
                row("fault", s.strategy.rawValue, effect.fault, "interior_failure", effect.interiorFailure ? "true" : "false")
            }
        }
        if let p = protocolOutcome {
            row("protocol", "ben-tree", "seed \(p.seed)", "trace_digest", p.traceDigest)
            row("protocol", "ben-tree", "seed \(p.seed)", "violations", "\(p.violations.count)")
            for v in p.versions {
                row("protocol", "ben-tree", "\(v.version)", "status", v.status.rawValue)
                row("protocol", "ben-tree", "\(v.version)", "activated", "\(v.activated)/\(v.required)")
                for missing in v.notSwitched { row("protocol-missing", "ben-tree", "\(v.version)", missing.node.rawValue, missing.reason.text) }
            }
            p.rollout?.csvRows(row)
        }
        return out
    }
}

func csvField(_ s: String) -> String {
    s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingQuotes + "\"" : s
}

func csvNumber(_ x: Double) -> String {
    guard x.isFinite else { return x > 0 ? "inf" : "-inf" }
    return "\(x)"
}

extension String {
    var replacingQuotes: String {
        var out = ""
        for c in self { out += c == "\"" ? "\"\"" : String(c) }
        return out
    }
}

func jsonNumber(_ x: Double) -> JSONValue { x.isFinite ? .double(x) : .null }

extension RunSummary {
    /// The figures of one run as (name, value) pairs, in a fixed order.
    func figures(optimal: Double) -> [(String, String)] {
        var out: [(String, String)] = [
            ("stripes", "\(stripes)"), ("nodes", "\(nodes)"), ("completed", "\(stats.count)"),
            ("p50_seconds", csvNumber(stats.p50)), ("p99_seconds", csvNumber(stats.p99)), ("last_seconds", csvNumber(stats.max)),
            ("ratio_to_optimal", csvNumber(ratioToOptimal)), ("p99_over_p50", csvNumber(stats.tailRatio)),
            ("active_at_seconds", activeAt.map(csvNumber) ?? "never"), ("ledger_egress_bytes", "\(ledgerEgress)"),
            ("largest_node_egress_bytes", "\(largestEgress)"), ("largest_node_egress_node", largestEgressNode),
            ("ledger_messages", "\(ledgerMessages)"), ("duplicated_bytes", "\(duplicatedBytes)"),
            ("received_ratio", csvNumber(receivedRatio)),
        ]
        for tier in Tier.allCases { out.append(("bytes_\(tier.name)", "\(bytesPerTier[tier])")) }
        for m in FlowRun.Missing.allCases { out.append(("missing_\(m.rawValue)", "\(missing[m] ?? 0)")) }
        out += [("adoptions", "\(adoptions)"), ("orphans", "\(orphans)"), ("chunk_events", "\(chunkEvents)")]
        return out
    }

    func json(includeWallTimes: Bool) -> JSONValue {
        var tiers: [String: JSONValue] = [:]
        for tier in Tier.allCases { tiers[tier.name] = .int(bytesPerTier[tier]) }
        var missingObject: [String: JSONValue] = [:]
        for m in FlowRun.Missing.allCases { missingObject[m.rawValue] = .int(Int64(missing[m] ?? 0)) }
        var object: [String: JSONValue] = [
            "label": .string(label),
            "stripes": .int(Int64(stripes)),
            "nodes": .int(Int64(nodes)),
            "completed": .int(Int64(stats.count)),
            "p50_seconds": jsonNumber(stats.p50),
            "p90_seconds": jsonNumber(stats.p90),
            "p99_seconds": jsonNumber(stats.p99),
            "last_seconds": jsonNumber(stats.max),
            "mean_seconds": jsonNumber(stats.mean),
            "ratio_to_optimal": jsonNumber(ratioToOptimal),
            "p99_over_p50": jsonNumber(stats.tailRatio),
            "active_at_seconds": activeAt.map(jsonNumber) ?? .null,
            "bytes_per_tier": .object(tiers),
            "ledger_egress_bytes": .int(ledgerEgress),
            "largest_node_egress_bytes": .int(largestEgress),
            "largest_node_egress_node": .string(largestEgressNode),
            "ledger_messages": .int(Int64(ledgerMessages)),
            "duplicated_bytes": .int(duplicatedBytes),
            "received_bytes": .int(receivedBytes),
            "received_ratio": jsonNumber(receivedRatio),
            "missing": .object(missingObject),
            "adoptions": .int(Int64(adoptions)),
            "orphans": .int(Int64(orphans)),
            "chunk_events": .int(chunkEvents),
            "heap_events": .int(heapEvents),
            "state_bytes_per_node": .double(Double(stateBytes) / Double(max(1, nodes))),
            "cdf": .array(stats.cdf.map { .array([.double($0.seconds), .double($0.fraction)]) }),
        ]
        if includeWallTimes {
            object["wall_seconds"] = .double(wallSeconds)
            object["chunk_events_per_second"] = .double(wallSeconds > 0 ? Double(chunkEvents) / wallSeconds : 0)
        }
        return .object(object)
    }
}

extension FaultEffect {
    var json: JSONValue {
        .object([
            "fault": .string(fault),
            "interior_failure": .bool(interiorFailure),
            "nodes_delayed": .int(Int64(nodesDelayed)),
            "nodes_lost": .int(Int64(nodesLost)),
            "max_seconds_added": jsonNumber(maxSecondsAdded),
            "mean_seconds_added": jsonNumber(meanSecondsAdded),
            "last_completion_added_seconds": jsonNumber(lastCompletionAdded),
            "p99_added_seconds": jsonNumber(p99Added),
            "ledger_egress_added_bytes": .int(ledgerEgressAdded),
        ])
    }
}

extension ProtocolOutcome {
    public func json(includeWallTimes: Bool = false) -> JSONValue {
        var tiers: [String: JSONValue] = [:]
        for tier in Tier.allCases { tiers[tier.name] = .int(bytesPerTier[tier.rawValue]) }
        var object: [String: JSONValue] = [
            "seed": .int(Int64(bitPattern: seed)),
            "nodes": .int(Int64(nodes)),
            "trace_digest": .string(traceDigest),
            "trace_lines": .int(Int64(traceLines)),
            "events": .int(Int64(events)),
            "messages_at_ledger": .int(Int64(messagesAtLedger)),
            "chunk_frames": .int(Int64(chunkFrames)),
            "duplicate_chunks": .int(Int64(duplicateChunks)),
            "ledger_egress_bytes": .int(ledgerEgress),
            "bytes_per_tier": .object(tiers),
            "relays_killed": .int(Int64(relaysKilled)),
            "simulated_seconds": .double(simulatedSeconds),
            "invariants_hold": .bool(passed),
            "violations": .array(violations.map { .string($0.description) }),
            "versions": .array(versions.map { v in
                let stats = CompletionStats(v.completion)
                return .object([
                    "version": .int(Int64(v.version.rawValue)),
                    "status": .string(v.status.rawValue),
                    "required": .int(Int64(v.required)),
                    "activated": .int(Int64(v.activated)),
                    "decided_after_seconds": v.decidedAfter.map(jsonNumber) ?? .null,
                    "p50_seconds": jsonNumber(stats.p50),
                    "p99_seconds": jsonNumber(stats.p99),
                    "not_switched": .array(v.notSwitched.map { .object(["node": .string($0.node.rawValue), "reason": .string($0.reason.text)]) }),
                ])
            }),
        ]
        if includeWallTimes { object["wall_seconds"] = .double(wallSeconds) }
        if let rollout { object["rollout"] = rollout.json }
        return .object(object)
    }

    /// Nodes that did not switch, grouped by the reason's code: "unreachable: 12, timeout: 3".
    public func missingSummary(_ v: VersionOutcome) -> String {
        var counts: [String: Int] = [:]
        for m in v.notSwitched { counts[m.reason.code.rawValue, default: 0] += 1 }
        return counts.keys.sorted().map { "\($0): \(counts[$0]!)" }.joined(separator: ", ")
    }
}
