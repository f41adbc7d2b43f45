import BenCore
import BenTopology

/// The rollout part of a report: each wave's timing, the time to full rollout with its bake times, and what a canary
/// failure costs next to what the same bundle would cost sent to every node.
extension RolloutOutcome {
    func seconds(_ x: Double?) -> String { x.map(formatDuration) ?? "-" }

    var json: JSONValue {
        var object: [String: JSONValue] = [
            "version": .int(Int64(version.rawValue)), "two_phase": .bool(twoPhase), "status": .string(status.rawValue),
            "time_to_full_rollout_seconds": timeToFullRollout.map(jsonNumber) ?? .null, "decided_after_seconds": decidedAfter.map(jsonNumber) ?? .null,
            "bake_seconds": jsonNumber(bakeSeconds),
            "activations_sent": .int(Int64(activationsSent)),
            "waves": .array(
                waves.map { w in
                    var wave: [String: JSONValue] = [
                        "name": .string(w.name), "nodes": .int(Int64(w.nodes)), "bake_seconds": jsonNumber(w.bake),
                        "started_after_seconds": w.startedAfter.map(jsonNumber) ?? .null, "decided_after_seconds": w.decidedAfter.map(jsonNumber) ?? .null,
                        "passed_after_seconds": w.passedAfter.map(jsonNumber) ?? .null, "nodes_active": .int(Int64(w.nodesActive)),
                        "first_active_after_seconds": w.firstActiveAfter.map(jsonNumber) ?? .null,
                        "last_active_after_seconds": w.lastActiveAfter.map(jsonNumber) ?? .null,
                    ]
                    if let f = w.failure { wave["failure"] = .string(f) }
                    return .object(wave)
                }),
        ]
        if let abortReason { object["abort_reason"] = .string(abortReason) }
        if let c = canaryFailure {
            object["canary_failure"] = [
                "aborted_after_seconds": c.abortedAfter.map(jsonNumber) ?? .null, "nodes_reached": .int(Int64(c.nodesReached)),
                "nodes_refused": .int(Int64(c.nodesRefused)), "nodes_spared": .int(Int64(c.nodesSpared)), "nodes_activated": .int(Int64(c.nodesActivated)),
                "bytes_sent": .int(c.bytesSent), "bytes_without_waves": .int(c.bytesWithoutWaves),
                "rolled_back_after_seconds": c.rolledBackAfter.map(jsonNumber) ?? .null, "invariants_hold": .bool(c.invariantsHold),
            ]
        }
        return .object(object)
    }

    var table: String {
        var out = "  rollout of \(version)\(twoPhase ? " (two-phase)" : ""): \(status)"
        if let timeToFullRollout {
            out += ", full rollout after \(formatDuration(timeToFullRollout)) (bakes \(formatDuration(bakeSeconds)))"
        } else if let decidedAfter {
            out += " after \(formatDuration(decidedAfter)) (bakes \(formatDuration(bakeSeconds)))"
        }
        out += abortReason.map { "; aborted: \($0)" } ?? ""
        out += "\n"
        for (i, w) in waves.enumerated() {
            out += "    wave \(i + 1) \(w.name): \(w.nodes) nodes, started \(seconds(w.startedAfter)), proven \(seconds(w.decidedAfter))"
            if w.bake > 0 { out += ", bake \(formatDuration(w.bake)), passed \(seconds(w.passedAfter))" }
            out += "; \(w.nodesActive) active" + activeSpan(w)
            if let f = w.failure { out += "; failed: \(f)" }
            out += "\n"
        }
        if let c = canaryFailure {
            out += "  a canary failure (every node of wave 1 fails to compile): aborted after \(seconds(c.abortedAfter)); "
                + "\(c.nodesReached) nodes reached, \(c.nodesRefused) refused, \(c.nodesActivated) activated, \(c.nodesSpared) never received it; "
                + "\(ByteSize.format(c.bytesSent)) sent, against \(ByteSize.format(c.bytesWithoutWaves)) to every node without waves"
                + (c.rolledBackAfter.map { "; rolled back after \(formatDuration($0))" } ?? "") + (c.invariantsHold ? "" : "; INVARIANTS VIOLATED") + "\n"
        }
        return out
    }

    /// When the wave's nodes ran the version: one time when they swapped together, else the first and the last.
    func activeSpan(_ w: Wave) -> String {
        guard let first = w.firstActiveAfter, let last = w.lastActiveAfter else { return "" }
        return first == last ? " at \(formatDuration(first))" : " from \(formatDuration(first)) to \(formatDuration(last))"
    }

    var html: String {
        var body = "<h3>Rollout of \(version)\(twoPhase ? " (two-phase)" : "")</h3><p>\(status)"
        if let timeToFullRollout {
            body += ": full rollout after \(esc(formatDuration(timeToFullRollout))), of which \(esc(formatDuration(bakeSeconds))) baking"
        } else if let decidedAfter {
            body += " after \(esc(formatDuration(decidedAfter))), of which \(esc(formatDuration(bakeSeconds))) baking"
        }
        body += abortReason.map { "; aborted: \(esc($0))" } ?? ""
        body += "</p><table><tr><th>wave</th><th>name</th><th>nodes</th><th>started</th><th>proven</th><th>bake</th><th>passed</th><th>active</th><th>failure</th></tr>"
        for (i, w) in waves.enumerated() {
            body += "<tr><td>\(i + 1)</td><td>\(esc(w.name))</td><td>\(w.nodes)</td><td>\(esc(seconds(w.startedAfter)))</td><td>\(esc(seconds(w.decidedAfter)))</td>"
                + "<td>\(esc(formatDuration(w.bake)))</td><td>\(esc(seconds(w.passedAfter)))</td><td>\(w.nodesActive)\(esc(activeSpan(w)))</td>"
                + "<td>\(esc(w.failure ?? ""))</td></tr>"
        }
        body += "</table>"
        if let c = canaryFailure {
            body += "<p>What a canary failure costs (every node of wave 1 fails to compile): aborted after \(esc(seconds(c.abortedAfter))); "
                + "\(c.nodesReached) nodes reached, \(c.nodesRefused) refused, \(c.nodesActivated) activated, \(c.nodesSpared) never received the version; "
                + "\(esc(ByteSize.format(c.bytesSent))) sent, against \(esc(ByteSize.format(c.bytesWithoutWaves))) to every node without waves"
                + (c.rolledBackAfter.map { "; rolled back after \(esc(formatDuration($0)))" } ?? "") + ".</p>"
        }
        return body
    }

    func csvRows(_ row: (String, String, String, String, String) -> Void) {
        row("rollout", "ben-tree", "\(version)", "status", status.rawValue)
        row("rollout", "ben-tree", "\(version)", "time_to_full_rollout_seconds", timeToFullRollout.map(csvNumber) ?? "")
        row("rollout", "ben-tree", "\(version)", "decided_after_seconds", decidedAfter.map(csvNumber) ?? "")
        for w in waves {
            row("rollout-wave", "ben-tree", w.name, "nodes", "\(w.nodes)")
            row("rollout-wave", "ben-tree", w.name, "decided_after_seconds", w.decidedAfter.map(csvNumber) ?? "")
            row("rollout-wave", "ben-tree", w.name, "nodes_active", "\(w.nodesActive)")
            row("rollout-wave", "ben-tree", w.name, "last_active_after_seconds", w.lastActiveAfter.map(csvNumber) ?? "")
        }
        if let c = canaryFailure {
            row("canary-failure", "ben-tree", "\(version)", "aborted_after_seconds", c.abortedAfter.map(csvNumber) ?? "")
            row("canary-failure", "ben-tree", "\(version)", "nodes_reached", "\(c.nodesReached)")
            row("canary-failure", "ben-tree", "\(version)", "bytes_sent", "\(c.bytesSent)")
        }
    }
}
