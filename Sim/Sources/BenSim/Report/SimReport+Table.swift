import BenTopology

extension SimReport {
    /// The figures for a terminal: one row per strategy and run, then the fault effects and the protocol verdict.
    public var table: String {
        let f = flow
        var out = "\(f.scenario): \(f.nodes) nodes, \(ByteSize.format(f.bundleSize)) in \(ByteSize.format(f.chunkSize)) chunks, T_opt \(formatDuration(f.optimal)), seed \(f.seed)\n"
        let header = ["strategy", "run", "k", "p50", "p99", "last", "T/T_opt", "p99/p50", "ledger egress", "largest egress", "msgs", "dup", "missing"]
        var rows: [[String]] = [header]
        for s in f.strategies {
            for r in [s.baseline] + (s.faulted.map { [$0] } ?? []) {
                rows.append([
                    s.strategy.rawValue, r.label, "\(r.stripes)", formatDuration(r.stats.p50), formatDuration(r.stats.p99), formatDuration(r.stats.max),
                    ratio(r.ratioToOptimal), ratio(r.stats.tailRatio), ByteSize.format(r.ledgerEgress), ByteSize.format(r.largestEgress),
                    "\(r.ledgerMessages)", ByteSize.format(r.duplicatedBytes), "\(r.missingCount)",
                ])
            }
        }
        out += layout(rows)
        let effects = f.strategies.flatMap { s in s.effects.map { (s.strategy.rawValue, $0) } }
        if !effects.isEmpty {
            var faultRows = [["strategy", "fault", "delayed", "lost", "most added", "mean added"]]
            for (strategy, e) in effects {
                faultRows.append([strategy, e.fault, "\(e.nodesDelayed)", "\(e.nodesLost)", formatDuration(e.maxSecondsAdded), formatDuration(e.meanSecondsAdded)])
            }
            out += "\n" + layout(faultRows)
        }
        if let p = protocolOutcome { out += "\n" + p.table }
        return out
    }
}

extension ProtocolOutcome {
    /// The verdict for a terminal.
    public var table: String {
        var out = "protocol engine: \(nodes) nodes, seed \(seed), \(events) events, \(relaysKilled) relays killed, trace \(traceDigest.prefix(16))… (\(traceLines) lines)\n"
        for v in versions {
            out += "  \(v.version): \(v.status), \(v.activated)/\(v.required) activated"
            if let d = v.decidedAfter { out += ", decided after \(formatDuration(d))" }
            if !v.notSwitched.isEmpty { out += "; not switched: \(missingSummary(v))" }
            out += "\n"
        }
        if let rollout { out += rollout.table }
        out += passed ? "  invariants: all hold\n" : "  invariants: \(violations.count) violated\n" + violations.map { "    \($0)\n" }.joined()
        return out
    }
}

func layout(_ rows: [[String]]) -> String {
    let widths = (0..<(rows.first?.count ?? 0)).map { c in rows.map { $0[c].count }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { c, cell in c < 2 ? cell + String(repeating: " ", count: widths[c] - cell.count) : String(repeating: " ", count: widths[c] - cell.count) + cell }
            .joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
}
