import BenCore
import Glibc

/// `benctl status V --watch` and `deploy --watch` (issue 17): the rollout followed until it is decided.
///
/// On a terminal the block (summary, waves, progress by location, missing nodes with their reasons) is redrawn in
/// place; on anything else one line is printed per change, with no escape codes; with `--json`, one status object
/// per change, one per line.
enum RolloutWatch {
    enum Mode: Equatable {
        case terminal, lines, json
    }

    static func mode(json: Bool) -> Mode {
        if json { return .json }
        guard isatty(1) == 1 else { return .lines }
        let term = ProcessEnvironment.value("TERM") ?? ""
        return term.isEmpty || term == "dumb" ? .lines : .terminal
    }

    /// Polls the ledger's status of `version` and shows each change until the version is active, incomplete,
    /// aborted or superseded (or, with `untilPrepared`, until every target has prepared). The exit code follows
    /// `deploy --wait`'s: 0 active (or prepared), 2 incomplete, aborted or superseded.
    static func follow(_ version: Version, client: LedgerClient, json: Bool, untilPrepared: Bool = false) async throws -> Int32 {
        let mode = mode(json: json)
        var last = ""
        var drawn = 0
        while true {
            let status = try DeploymentStatus(json: try await client.call("status", args: ["version": .int(Int64(version.rawValue))]))
            let prepared = untilPrepared && status.rollout?.step == "prepared"
            let done = status.status != "deploying" || prepared
            switch mode {
            case .json:
                let text = try CanonicalJSON.string(status.json)
                if text != last { emit(text + "\n") }
                last = text
            case .lines:
                let line = status.summary
                if line != last { emit(line + "\n") }
                last = line
            case .terminal:
                let lines = RolloutView.block(status)
                let text = lines.joined(separator: "\n")
                if text != last {
                    // Back to the first line of the last drawing, clear to the end, draw again.
                    emit((drawn > 0 ? "\u{1B}[\(drawn)F\u{1B}[J" : "") + text + "\n")
                    drawn = lines.count
                }
                last = text
            }
            if done { return prepared ? 0 : exitCode(status.status) }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    static func exitCode(_ status: String) -> Int32 {
        switch status {
        case "active": 0
        case "incomplete", "aborted", "superseded": 2
        default: 1
        }
    }

    static func emit(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }
}

/// How a rollout reads on a terminal: the summary, the waves, progress by location, the missing nodes.
enum RolloutView {
    static func block(_ s: DeploymentStatus, missingShown: Int = 8) -> [String] {
        var lines = [s.summary]
        lines += waves(s)
        if !s.locations.isEmpty {
            lines.append("  by location:")
            let width = s.locations.map(\.location.count).max() ?? 0
            for l in s.locations {
                let filled = l.required == 0 ? 0 : l.active * 20 / l.required
                var line = "    \(l.location.padding(width))  [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: 20 - filled))] \(l.active)/\(l.required) active"
                if l.prepared > 0 { line += ", \(l.prepared) prepared" }
                if l.refused > 0 { line += ", \(l.refused) refused" }
                lines.append(line)
            }
        }
        // Nodes of waves not started are counted under their wave; the rest are named with their reasons.
        let named = s.missing.filter { $0.reason.code != .pending }
        if !named.isEmpty {
            lines.append("  missing:")
            for m in named.prefix(missingShown) { lines.append("    \(m.node) (\(m.location)): \(m.reason)") }
            if named.count > missingShown { lines.append("    … and \(named.count - missingShown) more (`benctl status \(s.version.rawValue)` lists all)") }
        }
        return lines
    }

    /// The waves, one line each (nothing for a plain deploy).
    static func waves(_ s: DeploymentStatus) -> [String] {
        guard let r = s.rollout else { return [] }
        var head = "  \(r.activation == "on_arrival" ? "" : "two-phase (\(r.activation)); ")"
        head += r.waves.count > 1 ? "waves (on a failed gate: \(r.onFailure))" : "one wave"
        if r.paused { head += "; PAUSED" }
        if let spread = r.activationSpread { head += "; activation spread \(spread.milliseconds) ms" }
        var lines = [head + ":"]
        let width = r.waves.map(\.name.count).max() ?? 0
        for (i, w) in r.waves.enumerated() {
            var line = "    \(i + 1) \(w.name.padding(width))  \(String(w.nodes).leftPadding(4)) node\(w.nodes == 1 ? " " : "s")  \(w.state.padding(10))"
            if w.state != "pending" {
                line += " \(w.active) active"
                if w.prepared > 0 { line += ", \(w.prepared) prepared" }
                if w.refused > 0 { line += ", \(w.refused) refused" }
                if w.alerts > 0 { line += ", \(w.alerts) alert\(w.alerts == 1 ? "" : "s")" }
            }
            if w.bake > .zero { line += "  bake \(w.bake.secondsText)" }
            lines.append(line)
            if let failure = w.failure { lines.append("      failed: \(failure)") }
        }
        if let reason = r.reason, s.status == "aborted" { lines.append("  aborted: \(reason)") }
        if let rollback = r.rollback { lines.append("  rolled back as \(rollback) (`benctl status \(rollback.rawValue)`)") }
        return lines
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadding(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
