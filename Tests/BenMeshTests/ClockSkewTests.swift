import BenCore
import BenTestKit
import Foundation
import Testing

/// Issue 13 item 7: liveness comes from the ledger's clock. Real agents whose clocks run a day behind and a day
/// ahead (`--clock-offset`, a test-only option) are shown as `clock_skew` with their offset, are never called
/// silent or planned around for it, and are called silent after `--silent-after` once killed, skew or not.
@Suite(.serialized) struct ClockSkewTests {
    let intent = ProcessRunner.repositoryRoot() + "/examples/intent"
    static let day = 86_400

    func drift(_ fleet: LocalFleet) async throws -> JSONValue { try JSONParser.parse(try await fleet.benctl(["status", "--drift", "--json"]).stdout) }

    func nodes(_ list: JSONValue?) -> [String] { (list?.arrayValue ?? []).compactMap { $0["node"]?.stringValue }.sorted() }

    @Test func nodesWithSkewedClocksAreShownAsSkewedNeverAsDownAndASilentOneIsSilentWhateverItsClock() async throws {
        let fleet = try await LocalFleet(nodes: 4)
        let behind = fleet.nodes[1].id
        let ahead = fleet.nodes[2].id
        fleet.agentArguments = ["--heartbeat", "1", "--orphan-after", "3"]
        fleet.ledgerArguments = ["--silent-after", "4"]
        fleet.nodeArguments[behind] = ["--clock-offset=\(-Self.day)"]
        fleet.nodeArguments[ahead] = ["--clock-offset=\(Self.day)"]
        try await fleet.startLedger()
        #expect(try await fleet.stage(intent) == 1)
        try await fleet.startAgents()
        try await ShapedFleet.waitListening(fleet, fleet.nodes.map(\.id))

        try await fleet.waitUntil(timeout: .seconds(20), "every node is heard from, two with skewed clocks") {
            guard let d = try? await drift(fleet) else { return false }
            return d["running"]?["0"]?.intValue == 4 && nodes(d["clock_skew"]) == [behind.rawValue, ahead.rawValue].sorted()
        }
        let d = try await drift(fleet)
        #expect(nodes(d["silent"]).isEmpty, "a skewed clock never makes a node silent: \(d)")
        let offsets = Dictionary(uniqueKeysWithValues: (d["clock_skew"]?.arrayValue ?? []).map { ($0["node"]?.stringValue ?? "", $0["offset_ms"]?.intValue ?? 0) })
        // The offset is the node's clock minus the ledger's at receipt: a day, give or take the transit time.
        #expect(abs((offsets[behind.rawValue] ?? 0) + Int64(Self.day) * 1000) < 60_000, "\(offsets)")
        #expect(abs((offsets[ahead.rawValue] ?? 0) - Int64(Self.day) * 1000) < 60_000, "\(offsets)")
        #expect(d["clock_skew_tolerance_ms"]?.intValue == 30_000)
        let text = try await fleet.benctl(["status", "--drift"]).stdout
        #expect(text.contains("\(ahead) clock_skew: its clock runs 864"), "\(text)")
        #expect(text.contains("s ahead of the ledger's"), "\(text)")
        #expect(text.contains("\(behind) clock_skew: its clock runs 864") && text.contains("s behind the ledger's"), "\(text)")

        // Not planned around: both are targets of the next deployment, which they activate.
        let deployed = try await fleet.benctlInBackground(["deploy", "1", "--json", "--timeout", "30"])
        #expect(deployed.status == 0, "\(deployed.stderr)")
        let answer = try JSONParser.parse(deployed.stdout)
        #expect(answer["targets"]?.intValue == 4 && answer["excluded"]?.arrayValue?.isEmpty == true, "\(answer)")
        try await fleet.waitUntil(timeout: .seconds(30), "every node, skewed or not, activates v1") {
            fleet.nodes.allSatisfy { fleet.agentState($0.id)?.active == 1 }
        }
        try await fleet.waitUntil(timeout: .seconds(30), "the ledger holds all four signed acks: v1 is active") {
            (try? await fleet.status(1).status) == "active"
        }

        // Killed, a node is silent after --silent-after by the ledger's clock, whichever way its own clock runs.
        await fleet.stopAgent(ahead, signal: SIGKILL)
        await fleet.stopAgent(behind, signal: SIGKILL)
        try await fleet.waitUntil(timeout: .seconds(30), "both killed nodes are silent") {
            guard let d = try? await drift(fleet) else { return false }
            return nodes(d["silent"]) == [behind.rawValue, ahead.rawValue].sorted()
        }
        let after = try await drift(fleet)
        #expect(after["running"]?["1"]?.intValue == 2, "only the two live nodes count as running: \(after)")
        let silentHeard = (after["silent"]?.arrayValue ?? []).compactMap { $0["last_heard"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) }
        let now = Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000))
        #expect(silentHeard.allSatisfy { abs((now - $0).milliseconds) < 3_600_000 }, "last heard on the ledger's clock, not the node's: \(silentHeard)")
        // And once gossip's membership holds them dead (the ledger plans around what membership declares dead, not
        // around heartbeat silence alone), the next deployment plans around them; they catch up when they come back.
        try await fleet.waitUntil(timeout: .seconds(60), "membership declares both killed nodes dead") {
            let members = await GossipTests.members(fleet)
            return [ahead, behind].allSatisfy { members[$0]?.status == "dead" }
        }
        let rolled = try await fleet.benctlInBackground(["rollback", "--to", "1", "--json", "--timeout", "5"])
        #expect(rolled.status == 0, "\(rolled.stderr)")
        let excluded = try JSONParser.parse(rolled.stdout)["excluded"]?.arrayValue?.compactMap(\.stringValue)
        #expect(excluded == ["\(behind) (down)", "\(ahead) (down)"], "\(rolled.stdout)")
    }
}
