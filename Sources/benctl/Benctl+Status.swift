import ArgumentParser
import BenCore

extension Benctl {
    /// `benctl status [V]`: where a rollout stands, summary first (DESIGN §7).
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a version's rollout: signed acks verified, and every node missing, grouped by location.",
            discussion: "With --drift, list nodes whose running version differs from the fleet's, and nodes not heard from.")

        @Argument(help: "The version (default: the one deploying, else the latest deployed).")
        var version: String?

        @Flag(name: .long, help: "Show drift: nodes on another version, silent, or with a skewed clock, by location.")
        var drift = false

        @Flag(name: .long, help: "Follow the rollout until it is decided: redrawn in place on a terminal, one line per change otherwise, one JSON object per change with --json.")
        var watch = false

        @OptionGroup(title: "Only these nodes (counts and lists are narrowed to them)") var selector: SelectorOptions

        @OptionGroup var ledger: LedgerOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try selector.checkLocally()
            if drift {
                let answer = try await ledger.withClient { try await $0.call("drift", args: .object(selector.args)) }
                try output.show(answer) { StatusView.printDrift(answer) }
                return
            }
            var args = selector.args
            if let version { args["version"] = .int(Int64(try VersionArgument.parse(version).rawValue)) }
            if watch {
                let code = try await ledger.withClient { client in
                    let v = try DeploymentStatus(json: try await client.call("status", args: .object(args))).version
                    return try await RolloutWatch.follow(v, client: client, json: output.json)
                }
                if code != 0 { throw ExitCode(code) }
                return
            }
            let answer = try await ledger.withClient { try await $0.call("status", args: .object(args)) }
            let status = try DeploymentStatus(json: answer)
            try output.show(status.json) { StatusView.print(status) }
            if status.status == "incomplete" { throw ExitCode(2) }
        }
    }
}

/// How status reads on a terminal: the one-line summary, then groups, then detail.
enum StatusView {
    static func print(_ s: DeploymentStatus) {
        Swift.print(s.summary)
        for alarm in s.alarms { Swift.print("  ALARM \(alarm.at.rfc3339) \(alarm.kind): \(alarm.detail) (benctl log has it)") }
        Swift.print("  manifest \(s.manifest.short)  \(s.label.isEmpty ? "" : "(\(s.label))")")
        if s.stripes > 0 {
            let egress = s.bundleSize > 0 ? String(format: "%.2f", Double(s.ledgerEgress) / Double(s.bundleSize)) : "-"
            Swift.print("  plan: \(counted(s.stripes, "stripe tree")), depth \(s.depth), ledger fan-out \(s.fanOut)")
            Swift.print("  ledger egress \(ByteCount(s.ledgerEgress)) for a \(ByteCount(s.bundleSize)) bundle (×\(egress)); \(counted(s.messagesAtLedger, "message")) reached the ledger")
        }
        if let deadline = s.deadline { Swift.print("  attempt \(s.attempt), deadline \(deadline)") }
        for line in RolloutView.waves(s) { Swift.print(line) }
        if !s.groups.isEmpty {
            Swift.print("  missing by location:")
            for g in s.groups { Swift.print("    \(g.location): \(g.count) \(g.code.rawValue)") }
            Swift.print("  missing nodes:")
            for m in s.missing.prefix(50) { Swift.print("    \(m.node) (\(m.location)): \(m.reason)") }
            if s.missing.count > 50 { Swift.print("    … and \(s.missing.count - 50) more (--json lists all)") }
        }
        for suspect in s.suspects { Swift.print("  suspect relay \(suspect.node): \(suspect.detail)") }
    }

    static func printDrift(_ answer: JSONValue) {
        let fleetVersion = answer["fleet_version"]?.intValue ?? 0
        let differing = answer["differing"]?.arrayValue ?? []
        let silent = answer["silent"]?.arrayValue ?? []
        let total = answer["nodes"]?.intValue ?? 0
        // Counted from what the nodes' heartbeats say they run, not as "all nodes but those that differ or are
        // silent", which counted nodes in maintenance as running the fleet's version.
        let running = answer["running"]?.objectValue ?? [:]
        if fleetVersion > 0 {
            Swift.print("fleet's active version v\(fleetVersion); \(running["\(fleetVersion)"]?.intValue ?? 0)/\(counted(total, "node")) run it")
        } else {
            let runningOne = running.filter { $0.key != "0" }.values.compactMap(\.intValue).reduce(0, +)
            Swift.print("no version is active in the fleet yet; \(runningOne)/\(counted(total, "node")) run one")
        }
        if let latest = answer["latest"], let v = latest["version"]?.intValue {
            Swift.print("latest rollout v\(v) is \(latest["status"]?.stringValue ?? "?")")
        }
        if !running.isEmpty {
            let parts = running.keys.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }.map { "v\($0) on \(running[$0]?.intValue ?? 0)" }
            Swift.print("nodes heard from run: \(parts.joined(separator: ", "))")
        }
        var byLocation: [String: [String]] = [:]
        for d in differing {
            let line = "\(d["node"]?.stringValue ?? "?") runs v\(d["active"]?.intValue ?? 0)" + ((d["working"]?.stringValue).map { $0.isEmpty ? "" : " (working on \($0))" } ?? "")
            byLocation[d["location"]?.stringValue ?? "?", default: []].append(line)
        }
        for s in silent {
            let heard = s["last_heard"]?.stringValue.map { "last heard \($0)" } ?? "never heard from"
            byLocation[s["location"]?.stringValue ?? "?", default: []].append("\(s["node"]?.stringValue ?? "?") silent (\(heard))")
        }
        // A skewed clock is reported, never counted against the node: silence is judged on the ledger's clock.
        for s in answer["clock_skew"]?.arrayValue ?? [] {
            let offset = Double(s["offset_ms"]?.intValue ?? 0) / 1000
            let direction = offset >= 0 ? "ahead of" : "behind"
            byLocation[s["location"]?.stringValue ?? "?", default: []].append(
                "\(s["node"]?.stringValue ?? "?") clock_skew: its clock runs \(String(format: "%.1f", abs(offset))) s \(direction) the ledger's (offset \(String(format: "%+.1f", offset)) s)")
        }
        for location in byLocation.keys.sorted() {
            Swift.print("  \(location): \(counted(byLocation[location]!.count, "node"))")
            for line in byLocation[location]! { Swift.print("    \(line)") }
        }
    }
}
