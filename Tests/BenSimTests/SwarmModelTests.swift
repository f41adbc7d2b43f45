import BenCore
@testable import BenSim
import Testing

/// The swarm's settings (aria2c's defaults, read from `swarm:` with errors naming file, line and field) and what
/// the choked swarm does with them.
@Suite struct SwarmModelTests {
    /// A 24-node fleet at 100 Mbit/s, 1 ms links, 16 chunks of 1 MiB, with `swarm` as the scenario's last line (16).
    static func scenario(swarm: String? = nil) throws -> Scenario {
        var yaml = SimFixtures.uniform(nodes: 24, uplink: "100Mbit")
        if let swarm { yaml += "\nswarm: \(swarm)" }
        return try Scenario.read(yaml: yaml, file: "scenarios/swarm.yaml")
    }

    static func run(swarm: String? = nil) throws -> FlowRun {
        try FlowSimulation(scenario: scenario(swarm: swarm)).run(.swarm)
    }

    func error(_ swarm: String) -> SimError? {
        do {
            _ = try Self.scenario(swarm: swarm)
            return nil
        } catch { return error as? SimError }
    }

    @Test func theDefaultsAreAria2cs() throws {
        let s = try Self.scenario().swarm
        #expect(s.peers == 55 && s.slots == 4)
        #expect(s.chokeInterval == 10 && s.tick == 1 && s.joinSpread == 0)
        #expect(s.initialWindow == 14_480 && s.pipeline == 2 * 1_048_576 && s.allowedFast == 10)
    }

    @Test func everySettingIsRead() throws {
        let s = try Self.scenario(
            swarm: "{peers: 30, slots: 3, choke_interval: 5s, tick: 500ms, join_spread: 2s, initial_window: 0, pipeline: 4MiB, allowed_fast: 0}").swarm
        #expect(s.peers == 30 && s.slots == 3)
        #expect(s.chokeInterval == 5 && s.tick == 0.5 && s.joinSpread == 2)
        #expect(s.initialWindow == 0 && s.pipeline == 4 * 1_048_576 && s.allowedFast == 0)
        let idealised = try Self.scenario(swarm: "{peers: 8, choke_interval: 0s}").swarm
        #expect(idealised.chokeInterval == 0 && idealised.peers == 8)
    }

    @Test func badSettingsNameFileLineAndField() throws {
        let tick = try #require(error("{tick: soon}"))
        #expect(tick.description.hasPrefix("scenarios/swarm.yaml:16: swarm.tick: expected a duration"), "\(tick)")
        let pipeline = try #require(error("{pipeline: lots}"))
        #expect(pipeline.description.hasPrefix("scenarios/swarm.yaml:16: swarm.pipeline: expected a size"), "\(pipeline)")
        let window = try #require(error("{initial_window: -1}"))
        #expect(window.field == "swarm.initial_window" && window.line == 16, "\(window)")
        let peers = try #require(error("{peers: 0}"))
        #expect(peers.field == "swarm.peers" && peers.description.contains("1…200"), "\(peers)")
        let fast = try #require(error("{allowed_fast: many}"))
        #expect(fast.description.hasPrefix("scenarios/swarm.yaml:16: swarm.allowed_fast: expected a whole number in 0…1024"), "\(fast)")
        let unknown = try #require(error("{choke: 10s}"))
        #expect(unknown.code == .unknownField && unknown.field == "swarm.choke" && unknown.line == 16, "\(unknown)")
    }

    @Test func theChokedSwarmDeliversEveryChunkOnceAndAgainTheSame() throws {
        let first = try Self.run()
        #expect(first.completedCount == 24)
        #expect(first.duplicatedBytes == 0)
        #expect(first.receivedBytes == 24 * 16 * 1_048_576)
        #expect(first.ledgerEgress >= 16 * 1_048_576)
        let second = try Self.run()
        #expect(first.completion == second.completion)
        #expect(first.ledgerEgress == second.ledgerEgress)
    }

    @Test func theEventLoopsTickSlowsTheSwarm() throws {
        // Every HAVE and every UNCHOKE on an idle connection waits for the sender's next tick.
        let ticking = try Self.run(swarm: "{tick: 1s}")
        let instant = try Self.run(swarm: "{tick: 0s}")
        #expect(ticking.completedCount == 24 && instant.completedCount == 24)
        let late = try #require(ticking.sortedCompletion.last)
        let early = try #require(instant.sortedCompletion.last)
        #expect(late > early + 0.5, "tick 1 s: \(late) s, tick 0: \(early) s")
    }

    @Test func anAllowedFastSetSharedByTheFleetLoadsTheSeed() throws {
        // Every choked leecher asks the seed for the same allowed fast pieces: the seed sends them again and again.
        let shared = try Self.run()
        let none = try Self.run(swarm: "{allowed_fast: 0}")
        #expect(shared.completedCount == 24 && none.completedCount == 24)
        #expect(Double(shared.ledgerEgress) > 1.4 * Double(none.ledgerEgress), "\(shared.ledgerEgress) B against \(none.ledgerEgress) B")
        #expect(shared.duplicatedBytes == 0)
        #expect(try #require(shared.sortedCompletion.last) > #require(none.sortedCompletion.last))
    }

    @Test func aLeecherCompletesOnlyAfterItJoined() throws {
        // Leechers join evenly over 6 s: the last one 6·23/24 = 5.75 s after the first, and half of them after 3 s.
        // (Without an allowed fast set: with one, joining at once overloads the seed, and a spread can be faster.)
        let spread = try Self.run(swarm: "{join_spread: 6s, allowed_fast: 0}")
        let together = try Self.run(swarm: "{allowed_fast: 0}")
        #expect(spread.completedCount == 24)
        let sorted = spread.sortedCompletion
        #expect(try #require(sorted.last) >= 5.75)
        #expect(sorted[12] >= 3, "\(sorted)")
        #expect(sorted[12] > together.sortedCompletion[12])
    }

    @Test func withoutChokingItIsTheIdealisedSwarm() throws {
        // choke_interval 0: every slot serves whoever lacks something, so ticks and joins do not apply.
        let plain = try Self.run(swarm: "{peers: 8, choke_interval: 0s}")
        let ignored = try Self.run(swarm: "{peers: 8, choke_interval: 0s, tick: 2s, join_spread: 6s, pipeline: 8MiB, allowed_fast: 3}")
        #expect(plain.completedCount == 24)
        #expect(plain.completion == ignored.completion)
        var idealised = try Self.scenario()
        idealised.swarm = .idealised
        #expect(try FlowSimulation(scenario: idealised).run(.swarm).completion == plain.completion)
    }
}
