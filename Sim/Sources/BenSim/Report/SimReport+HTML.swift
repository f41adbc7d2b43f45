import BenTopology

extension SimReport {
    /// The ids of the report's SVG charts: completion CDF per strategy, bytes per tier, ledger egress, messages at
    /// the ledger, and the fault effects (seconds added, nodes delayed and lost).
    public static let chartIDs = ["cdf", "tiers", "ledger-egress", "ledger-messages", "fault-seconds", "fault-nodes"]

    /// A self-contained HTML page: the summary table, then SVG charts of completion CDFs, bytes per tier, ledger
    /// egress and messages, and each fault's effect, then the protocol engine's verdict. A few lines of script
    /// record each chart's rendered size on the page (`data-rendered`), which the report test reads back from a
    /// headless browser.
    public var html: String {
        let f = flow
        var body = ""
        body += "<h1>Ben simulation: \(esc(f.scenario))</h1>"
        if !f.description.isEmpty { body += "<p>\(esc(f.description))</p>" }
        body += "<p>\(f.nodes) nodes, bundle \(esc(ByteSize.format(f.bundleSize))) in \(esc(ByteSize.format(f.chunkSize))) chunks, "
            + "B = \(esc(Bandwidth(bitsPerSecond: Int64(f.uplink * 8))?.description ?? "?")) per node, ben-tree k = \(f.plannedStripes), "
            + "T_opt = \(esc(formatDuration(f.optimal))), seed \(f.seed).</p>"
        if !f.faults.isEmpty { body += "<p>Faults: \(esc(f.faults.joined(separator: "; "))).</p>" }

        // Summary table.
        body += "<h2>Summary</h2><table><tr><th>strategy</th><th>run</th><th>k</th><th>p50</th><th>p99</th><th>last</th><th>T ÷ T_opt</th>"
            + "<th>p99 ÷ p50</th><th>ledger active</th><th>ledger egress</th><th>largest node egress</th><th>messages at ledger</th>"
            + "<th>duplicated</th><th>received ÷ N·S</th><th>not completed</th></tr>"
        for s in f.strategies {
            for r in [s.baseline] + (s.faulted.map { [$0] } ?? []) {
                body += "<tr><td>\(esc(s.strategy.rawValue))</td><td>\(esc(r.label))</td><td>\(r.stripes)</td>"
                    + "<td>\(esc(formatDuration(r.stats.p50)))</td><td>\(esc(formatDuration(r.stats.p99)))</td><td>\(esc(formatDuration(r.stats.max)))</td>"
                    + "<td>\(ratio(r.ratioToOptimal))</td><td>\(ratio(r.stats.tailRatio))</td><td>\(esc(r.activeAt.map(formatDuration) ?? "never (incomplete)"))</td>"
                    + "<td>\(esc(ByteSize.format(r.ledgerEgress)))</td><td>\(esc(ByteSize.format(r.largestEgress))) (\(esc(r.largestEgressNode)))</td>"
                    + "<td>\(r.ledgerMessages)</td><td>\(esc(ByteSize.format(r.duplicatedBytes)))</td><td>\(ratio(r.receivedRatio))</td>"
                    + "<td>\(r.missingCount)\(r.missingCount > 0 ? " (" + esc(r.missing.keys.sorted { $0.rawValue < $1.rawValue }.map { "\($0.rawValue) \(r.missing[$0]!)" }.joined(separator: ", ")) + ")" : "")</td></tr>"
            }
        }
        body += "</table>"

        // CDF.
        var series: [SVGChart.Series] = []
        for (i, s) in f.strategies.enumerated() {
            let color = SVGChart.palette[i % SVGChart.palette.count]
            series.append(.init(name: s.strategy.rawValue, points: s.baseline.stats.cdf.map { ($0.seconds, $0.fraction) }, color: color))
            if let faulted = s.faulted {
                series.append(.init(name: "\(s.strategy.rawValue), faults", points: faulted.stats.cdf.map { ($0.seconds, $0.fraction) }, dashed: true, color: color))
            }
        }
        let times = series.flatMap { $0.points.map(\.0) }.filter { $0 > 0 }
        let spread = (times.max() ?? 1) / max(1e-9, times.min() ?? 1)
        body += "<h2>Time to active</h2>"
        body += SVGChart.lines(
            id: "cdf", title: "Completion time CDF per strategy (dashed: with faults)", xLabel: "seconds since the deploy", yLabel: "fraction of nodes active",
            series: series, logX: spread > 20, yMax: 1)

        // Bytes per tier.
        let names = f.strategies.map(\.strategy.rawValue)
        let tiers = Tier.allCases.reversed().enumerated().map { (j, tier) in
            (name: tier.name, values: f.strategies.map { Double($0.baseline.bytesPerTier[tier]) }, color: SVGChart.palette[j])
        }
        body += "<h2>Bytes per tier</h2>"
        body += SVGChart.bars(id: "tiers", title: "Bytes crossing each tier (no faults)", unit: { ByteSize.format(Int64($0)) }, categories: names, series: tiers, stacked: true)

        // Ledger egress and messages.
        body += "<h2>The ledger</h2>"
        body += SVGChart.bars(
            id: "ledger-egress", title: "Ledger egress (log scale)", unit: { ByteSize.format(Int64($0)) }, categories: names,
            series: [("ledger egress", f.strategies.map { Double($0.baseline.ledgerEgress) }, SVGChart.palette[0]),
                     ("largest node egress", f.strategies.map { Double($0.baseline.largestEgress) }, SVGChart.palette[3])], stacked: false, logScale: true)
        body += SVGChart.bars(
            id: "ledger-messages", title: "Messages reaching the ledger (log scale)", unit: { "\(Int($0))" }, categories: names,
            series: [("messages", f.strategies.map { Double($0.baseline.ledgerMessages) }, SVGChart.palette[2])], stacked: false, logScale: true)

        // Fault effects.
        let effects = f.strategies.flatMap { s in s.effects.map { (s.strategy.rawValue, $0) } }
        if !effects.isEmpty {
            body += "<h2>The effect of each fault</h2>"
            let labels = effects.map { "\($0.0): \($0.1.fault)" }
            body += SVGChart.bars(
                id: "fault-seconds", title: "Seconds added (most, and mean over delayed nodes)", unit: { formatDuration($0) }, categories: labels,
                series: [("most added", effects.map { $0.1.maxSecondsAdded }, SVGChart.palette[1]),
                         ("mean added", effects.map { $0.1.meanSecondsAdded }, SVGChart.palette[4])], stacked: false)
            body += SVGChart.bars(
                id: "fault-nodes", title: "Nodes delayed, and nodes that never activated", unit: { "\(Int($0))" }, categories: labels,
                series: [("delayed", effects.map { Double($0.1.nodesDelayed) }, SVGChart.palette[3]),
                         ("lost", effects.map { Double($0.1.nodesLost) }, SVGChart.palette[1])], stacked: false)
            body += "<table><tr><th>strategy</th><th>fault</th><th>interior failure</th><th>nodes delayed</th><th>nodes lost</th><th>most seconds added</th><th>mean seconds added</th><th>last completion added</th></tr>"
            for (strategy, e) in effects {
                body += "<tr><td>\(esc(strategy))</td><td>\(esc(e.fault))</td><td>\(e.interiorFailure ? "yes" : "")</td><td>\(e.nodesDelayed)</td><td>\(e.nodesLost)</td>"
                    + "<td>\(esc(formatDuration(e.maxSecondsAdded)))</td><td>\(esc(formatDuration(e.meanSecondsAdded)))</td><td>\(esc(formatDuration(e.lastCompletionAdded)))</td></tr>"
            }
            body += "</table>"
        }

        if let p = protocolOutcome {
            body += "<h2>Protocol engine (the real machines)</h2>"
            body += "<p>\(p.nodes) nodes, seed \(p.seed), \(p.events) events, \(p.relaysKilled) relays killed, \(p.messagesAtLedger) messages at the ledger. "
                + "Trace \(p.traceLines) lines, BLAKE2b <code>\(esc(String(p.traceDigest.prefix(16))))…</code>. Replay: <code>ben-sim replay \(p.seed) --scenario …</code></p>"
            body += p.passed ? "<p class=\"ok\">Every invariant holds.</p>" : "<p class=\"bad\">\(p.violations.count) invariant violation(s):</p><ul>" + p.violations.map { "<li>\(esc($0.description))</li>" }.joined() + "</ul>"
            body += "<table><tr><th>version</th><th>ledger says</th><th>activated</th><th>decided after</th><th>not switched, by reason</th></tr>"
            for v in p.versions {
                body += "<tr><td>\(v.version)</td><td>\(v.status)</td><td>\(v.activated)/\(v.required)</td><td>\(esc(v.decidedAfter.map(formatDuration) ?? "-"))</td><td>\(esc(p.missingSummary(v)))</td></tr>"
            }
            body += "</table>"
            if let rollout = p.rollout { body += rollout.html }
            if let last = p.versions.last, !last.completion.isEmpty {
                let stats = CompletionStats(last.completion)
                body += SVGChart.lines(
                    id: "protocol-cdf", title: "Protocol engine: activation time CDF (\(last.version))", xLabel: "seconds since the deploy", yLabel: "fraction of activated nodes",
                    series: [.init(name: "\(last.version)", points: stats.cdf.map { ($0.seconds, $0.fraction) }, color: SVGChart.palette[0])], logX: false, yMax: 1)
            }
        }

        let style = "body{font-family:sans-serif;margin:24px;max-width:1100px}table{border-collapse:collapse;font-size:12px;margin:12px 0}"
            + "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f4f4f4}td:first-child,td:nth-child(2){text-align:left}"
            + "svg.chart{display:block;margin:16px 0;border:1px solid #eee}.ok{color:#2a7a2a}.bad{color:#b00020;font-weight:bold}"
        let script = "window.addEventListener('load',function(){document.querySelectorAll('svg.chart').forEach(function(s){"
            + "var r=s.getBoundingClientRect();var marks=0;s.querySelectorAll('.mark').forEach(function(m){var b=m.getBBox();if(b.width>0||b.height>0)marks++;});"
            + "s.setAttribute('data-rendered',Math.round(r.width)+'x'+Math.round(r.height));s.setAttribute('data-marks',String(marks));});"
            + "document.body.setAttribute('data-charts-checked','yes');});"
        return "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Ben simulation: \(esc(f.scenario))</title><style>\(style)</style></head><body>"
            + body + "<script>\(script)</script></body></html>\n"
    }
}

func ratio(_ x: Double) -> String {
    guard x.isFinite else { return "∞" }
    return "\((x * 100).rounded() / 100)"
}
