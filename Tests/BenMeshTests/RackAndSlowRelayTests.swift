import BenCore
import BenTestKit
import Foundation
import Testing

/// Issue 7, item 1: a whole rack goes away, and one relay is much slower than the rest.
@Suite(.serialized) struct RackAndSlowRelayTests {
    @Test func aStoppedRackIsNamedByLocationAndStaysOnItsPreviousVersion() async throws {
        let shaped = try await ShapedFleet.start()
        let fleet = shaped.fleet
        // Rack r2 is nodes 4-6 (zone b). Stopped just before the deploy, they are not yet silent, so the plan still
        // counts on them, relays included.
        let rack = fleet.nodes.filter { $0.rack == "r2" }.map(\.id)
        #expect(rack.count == 3)
        for id in rack { await fleet.stopAgent(id) }
        let plan = try await fleet.deploy(shaped.version, ["--timeout", "10"])
        #expect(Set(plan.nodes.map(\.id)).isSuperset(of: rack), "the stopped rack is in the plan")
        let status = try await shaped.waitDecided()
        #expect(status.status == "incomplete")
        try await shaped.expectOutcome(missing: Set(rack))
        // The summary an operator reads first: the rack, with everything missing in it.
        #expect(status.groups.map(\.location) == ["test/b/r2"], "\(status.groups)")
        #expect(status.groups.map(\.count).reduce(0, +) == 3)
        let text = try await fleet.benctl(["status", "\(shaped.version.rawValue)"])
        #expect(text.status == 2)
        #expect(text.stdout.contains("test/b/r2"), "\(text.stdout)")
    }

    @Test func aRelayThrottledToAQuarterOfTheOthersBandwidthSlowsButNeverBreaksTheRollout() async throws {
        let shaped = try await ShapedFleet.start()
        let fleet = shaped.fleet
        // The plan is deterministic for its inputs: predict it with `benctl topology plan`, throttle a relay of it
        // before the deploy, and check the ledger planned the same.
        let versions = try JSONParser.parse(await fleet.benctl(["versions", "--json"]).stdout)["versions"]?.arrayValue ?? []
        let size = try #require(versions.first { $0["version"]?.intValue == Int64(shaped.version.rawValue) }?["size"]?.intValue)
        let predicted = try JSONParser.parse(
            await fleet.benctl([
                "topology", "plan", fleet.topologyPath, "--version", "\(shaped.version.rawValue)", "--size", "\(size)", "--json",
            ]).stdout)
        let plan = try Plan(json: try #require(predicted["plan"]))
        // The relay with the most nodes below it: its slowness costs most.
        func below(_ id: NodeID) -> Int { plan.relays[id]!.map { plan.descendants(of: id, stripe: $0) }.max()! }
        let relay = try #require(plan.relays.keys.max { (below($0), $1.rawValue) < (below($1), $0.rawValue) })
        await fleet.stopAgent(relay)
        fleet.nodeArguments[relay] = ["--upload-limit", "6Mbit"]  // a quarter of ShapedFleet.rate
        try await fleet.startAgent(relay)
        try await ShapedFleet.waitListening(fleet, [relay], times: 2)

        let deployed = try await fleet.benctlInBackground(["deploy", "\(shaped.version.rawValue)", "--json", "--timeout", "60"])
        #expect(try JSONParser.parse(deployed.stdout)["plan"]?.stringValue == predicted["plan_key"]?.stringValue, "planned as predicted")
        let status = try await shaped.waitDecided(timeout: .seconds(90))
        #expect(status.status == "active")
        try await shaped.expectOutcome(missing: [])
        #expect(fleet.agentLog(relay).contains("transfer complete"), "the slow relay itself activated")
    }
}
