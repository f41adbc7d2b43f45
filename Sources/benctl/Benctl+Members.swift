import ArgumentParser
import BenCore

extension Benctl {
    /// `benctl members`: gossip membership by location, as the ledger sees it (issue 16).
    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show gossip membership by location: alive, suspect and dead, each node's incarnation and what it last heard.",
            discussion: """
                As the ledger's gossip sees it. A node gossip has no news of is presumed alive at incarnation 0. "heard" is \
                when the ledger last heard from the node itself (a gossip datagram or a heartbeat); "accepted"/"runs" is \
                what the node last said it had heard of and runs (its gossip digest, or its heartbeat).
                """)

        @Option(name: .long, help: "Only members with this status: alive, suspect or dead.")
        var status: String?

        @OptionGroup(title: "Only these nodes") var selector: SelectorOptions

        @OptionGroup var ledger: LedgerOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if let status, MemberStatus(rawValue: status) == nil {
                throw ValidationError("--status: expected alive, suspect or dead, not '\(status)'")
            }
        }

        func run() async throws {
            try selector.checkLocally()
            var answer = try await ledger.withClient { try await $0.call("members", args: .object(selector.args)) }
            if let status, case .object(var fields) = answer {
                fields["members"] = .array((answer["members"]?.arrayValue ?? []).filter { $0["status"]?.stringValue == status })
                answer = .object(fields)
            }
            if output.json { print(try CanonicalJSON.string(answer)) } else { MembersView.print(answer, now: Clock.now()) }
        }
    }
}

/// Typed stand-in for gossip's member status (benctl does not link the protocol machines).
enum MemberStatus: String {
    case alive, suspect, dead
}

/// How `members` reads on a terminal: the counts, then each location with its counts, then its nodes.
enum MembersView {
    static func print(_ answer: JSONValue, now: Timestamp) {
        let counts = answer["counts"]
        let alive = counts?["alive"]?.intValue ?? 0
        let suspect = counts?["suspect"]?.intValue ?? 0
        let dead = counts?["dead"]?.intValue ?? 0
        let gossip = answer["gossip"]?.stringValue ?? "off"
        var header = "\(counted(alive + suspect + dead, "member")) as the ledger sees them: \(alive) alive, \(suspect) suspect, \(dead) dead"
        switch gossip {
        case "on": header += " (gossip on; the ledger's incarnation \(answer["incarnation"]?.intValue ?? 0))"
        case "starting": header += " (gossip starting: no news yet, every member presumed alive)"
        default: header += " (gossip is off at the ledger: every member presumed alive)"
        }
        Swift.print(header)
        let rows = answer["members"]?.arrayValue ?? []
        var byLocation: [String: [JSONValue]] = [:]
        for row in rows { byLocation[row["location"]?.stringValue ?? "?", default: []].append(row) }
        let width = rows.map { ($0["node"]?.stringValue ?? "").count }.max() ?? 0
        for location in byLocation.keys.sorted() {
            let members = byLocation[location]!
            let tally = ["alive", "suspect", "dead"].compactMap { status -> String? in
                let n = members.filter { $0["status"]?.stringValue == status }.count
                return n == 0 ? nil : "\(n) \(status)"
            }
            Swift.print("  \(location): \(tally.joined(separator: ", "))")
            for row in members { Swift.print("    " + line(row, width: width, now: now)) }
        }
    }

    static func line(_ row: JSONValue, width: Int, now: Timestamp) -> String {
        let node = row["node"]?.stringValue ?? "?"
        let status = row["status"]?.stringValue ?? "?"
        var parts = [
            node.padded(to: width), status.padded(to: 7),
            "incarnation \(row["incarnation"]?.intValue ?? 0)",
        ]
        if status != "alive", let since = row["since"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) { parts.append("since \(ago(since, now))") }
        if let heard = row["last_heard"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) {
            parts.append("heard \(ago(heard, now)) (\(row["heard_by"]?.stringValue ?? "?"))")
        } else {
            parts.append("never heard from")
        }
        var said: [String] = []
        if let accepted = row["accepted"]?.intValue { said.append("accepted v\(accepted)") }
        if let active = row["active"]?.intValue { said.append(active == 0 ? "runs none" : "runs v\(active)") }
        if row["reaches_ledger"] == .bool(false) { said.append("no NATS") }
        if !said.isEmpty { parts.append(said.joined(separator: ", ")) }
        return parts.joined(separator: "  ")
    }

    static func ago(_ t: Timestamp, _ now: Timestamp) -> String {
        let ms = max(0, (now - t).milliseconds)
        if ms < 60_000 { return String(format: "%.1f s ago", Double(ms) / 1000) }
        if ms < 3_600_000 { return "\(ms / 60_000) min ago" }
        return "at \(t.rfc3339)"
    }
}

extension String {
    fileprivate func padded(to length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
