import BenCore
import BenMetrics
import BenTestKit
import Foundation
import Testing

/// What an operator sees of a real fleet (issue 18): nats-server, a ledger started from a config file, and three
/// agents logging JSON, one rollout. One fleet serves the metrics, health, log and config checks, so the suite
/// costs one rollout.
@Suite(.serialized) struct OperatingAFleetTests {
    let repository = ProcessRunner.repositoryRoot()

    @Test func metricsHealthAndJSONLogsOfARealLedgerAndAgentsAcrossARollout() async throws {
        let fleet = try await LocalFleet(nodes: 3)
        let ports = try FreePorts.take(2)
        let (ledgerMetrics, agentMetrics) = (ports[0], ports[1])
        // The file sets what the test checks; LocalFleet's flags set the rest, and override the file's wrong
        // seed_listen: if the file won, no agent could pull and the ledger would not answer where LocalFleet looks.
        let config = fleet.directory.file("ledger.yaml")
        try """
        # ben-ledger's settings for this test
        seed_listen: 127.0.0.1:1
        silent_after: 6
        metrics_listen: 127.0.0.1:\(ledgerMetrics)
        log_format: json
        """.write(toFile: config, atomically: true, encoding: .utf8)
        fleet.ledgerArguments = ["--config", config]
        fleet.agentArguments += ["--log-format", "json", "--topology", fleet.topologyPath]
        fleet.nodeArguments[fleet.nodes[0].id] = ["--metrics-listen", "127.0.0.1:\(agentMetrics)"]
        try await fleet.startLedger()

        // Alive at once; not ready until a topology gives it the node keys acks are checked against.
        #expect(try HTTP.get(ledgerMetrics, "/healthz").status == 200)
        let unready = try HTTP.get(ledgerMetrics, "/readyz")
        #expect(unready.status == 503, "\(unready.body)")
        #expect(try JSONParser.parse(unready.body)["checks"]?["topology"]?["ok"] == .bool(false))

        try await fleet.startAgents()
        try await eventually("the agent's metrics listener answers") { try HTTP.get(agentMetrics, "/healthz").status == 200 }
        // An agent with NATS and keys but no version yet is alive and not ready.
        try await eventually("the agent has NATS") {
            (try? JSONParser.parse(try HTTP.get(agentMetrics, "/readyz").body))?["checks"]?["nats"]?["ok"] == .bool(true)
        }
        let agentUnready = try HTTP.get(agentMetrics, "/readyz")
        #expect(agentUnready.status == 503)
        #expect(try JSONParser.parse(agentUnready.body)["checks"]?["version"]?["ok"] == .bool(false))

        let version = try await fleet.stage(repository + "/examples/intent")
        let deploy = try await fleet.benctlInBackground(["deploy", "\(version.rawValue)", "--wait", "--timeout", "60"])
        #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
        let eval = try await fleet.benctl(["eval", "--node", "node-1", "--role", "proxy", "--input", repository + "/examples/requests/proxy-export.json"])
        #expect(eval.status == 0, "\(eval.stderr)")

        #expect(try HTTP.get(ledgerMetrics, "/readyz").status == 200)
        #expect(try HTTP.get(agentMetrics, "/readyz").status == 200)

        // The ledger's scrape: every series it reports, in valid exposition format, with the rollout's figures.
        let ledgerScrape = try HTTP.get(ledgerMetrics, "/metrics")
        #expect(ledgerScrape.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let ledger = try Exposition(ledgerScrape.body)
        for metric in Metric.allCases where metric.reporter != .agent {
            #expect(ledger.types[metric.rawValue] != nil, "\(metric.rawValue) missing from the ledger's scrape")
            #expect(ledger.help[metric.rawValue] == metric.help)
        }
        #expect(ledger.value("ben_acks_verified_total", ["status": "active"]) == 3)
        #expect(ledger.value("ben_rollouts", ["state": "active"]) == 1)
        #expect(ledger.value("ben_rollout_nodes", ["state": "active"]) == 3)
        #expect(ledger.value("ben_active_version") == Double(version.rawValue))
        #expect(ledger.value("ben_nats_connected") == 1)
        #expect(ledger.value("ben_bytes_sent_total") > 0)
        #expect(ledger.value("ben_bytes_sent_total", ["tier": "unknown"]) == 0, "the ledger places every node it sends to")
        #expect(ledger.value("ben_build_info", ["process": "ledger", "version": BenRelease.current]) == 1)
        // Gossip runs by default: the ledger's membership holds the three agents alive and none dead.
        #expect(ledger.value("ben_gossip_members", ["state": "alive"]) >= 3, "\(ledgerScrape.body)")
        #expect(ledger.value("ben_gossip_members", ["state": "dead"]) == 0)

        // The agent's scrape.
        let agent = try Exposition(try HTTP.get(agentMetrics, "/metrics").body)
        for metric in Metric.allCases where metric.reporter != .ledger {
            #expect(agent.types[metric.rawValue] != nil, "\(metric.rawValue) missing from the agent's scrape")
        }
        #expect(agent.value("ben_active_version") == Double(version.rawValue))
        #expect(agent.value("ben_activations_total") == 1)
        #expect(agent.value("ben_swap_latency_seconds_count") == 1)
        #expect(agent.value("ben_evaluation_latency_seconds_count", ["role": "proxy"]) == 1)
        #expect(agent.value("ben_acks_sent_total", ["status": "active"]) == 1)
        #expect(agent.value("ben_aggregates_sent_total") >= 1)
        #expect(agent.value("ben_bytes_received_total") > 0)
        #expect(agent.value("ben_bytes_received_total", ["tier": "unknown"]) == 0, "with --topology every byte has a tier")

        // JSON logs: one object per line, the documented keys, and the agent's ack and aggregate at info.
        let lines = fleet.agentLog(fleet.nodes[0].id).split(separator: "\n")
        let objects = lines.compactMap { try? JSONParser.parse(String($0)) }
        #expect(!lines.isEmpty && objects.count == lines.count, "every log line is one JSON object")
        for object in objects {
            #expect(object["ts"]?.stringValue != nil && object["level"]?.stringValue != nil && object["msg"]?.stringValue != nil)
        }
        let ack = try #require(objects.first { $0["msg"] == "ack sent" }, "no `ack sent` line")
        #expect(ack["level"] == "info")
        #expect(ack["fleet"] == .string(fleet.fleet.rawValue))
        #expect(ack["node"] == "node-1")
        #expect(ack["version"] == .string("\(version)"))
        #expect(ack["peer"] == "ledger")
        #expect(ack["status"] == "active")
        let aggregate = try #require(objects.first { $0["msg"] == "aggregate sent" }, "no `aggregate sent` line")
        #expect(aggregate["level"] == "info" && aggregate["via"] == "link")
        #expect(fleet.ledgerLog.split(separator: "\n").allSatisfy { (try? JSONParser.parse(String($0))) != nil }, "the ledger logs JSON too")

        // nats-server restarts: the ledger counts the reconnect, and is ready again once it is back.
        try await fleet.nats.restart()
        try await eventually("the ledger reconnected") {
            try Exposition(try HTTP.get(ledgerMetrics, "/metrics").body).value("ben_nats_reconnects_total") >= 1
        }
        try await eventually("the ledger is ready again") { try HTTP.get(ledgerMetrics, "/readyz").status == 200 }
        #expect(try Exposition(try HTTP.get(ledgerMetrics, "/metrics").body).value("ben_nats_disconnects_total") >= 1)
    }
}
