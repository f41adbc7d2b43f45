import BenCore
import BenTopology
import Testing

/// Issue 17 item 2: a rollout policy, from a file or flags, and its waves resolved against a topology. Every
/// problem names where it is and what to write.
@Suite struct RolloutPolicyTests {
    let topology = Topology.read(yaml: Fixtures.base, file: "t.yaml").topology!
    var everyNode: [Int] { Array(topology.nodes.indices) }

    static let policy = """
        format: ben/rollout-policy/v1
        on_failure: rollback
        waves:
          - name: canary
            select: {roles: [detector]}
            bake: 5m
            gates: {max_refusals: 0, max_missing: 1, max_alerts: 0}
          - name: rest
        """

    @Test func aPolicyFileReadsIntoWavesBakesAndGates() throws {
        let reading = RolloutPolicy.read(yaml: Self.policy, file: "p.yaml")
        #expect(reading.errors.isEmpty, "\(reading.errors)")
        let policy = try #require(reading.policy)
        #expect(policy.onFailure == .rollback)
        #expect(policy.waves.map(\.name) == ["canary", "rest"])
        #expect(policy.waves[0].select.roles == ["detector"] && policy.waves[0].bake == .seconds(300))
        #expect(policy.waves[0].gates == RolloutPolicy.Gates(maxRefusals: 0, maxMissing: 1, maxAlerts: 0))
        #expect(policy.waves[1].select.isEmpty && policy.waves[1].gates.maxAlerts == nil)
        // What benctl sends the ledger reads back the same.
        #expect(try RolloutPolicy(json: policy.json) == policy)
    }

    @Test(arguments: [
        ("    bake: 5x", "p.yaml:6: waves[0].bake: '5x' is not a duration such as 30s, 5m, 1h30m or 500ms (at most 7 days); write `bake: 5m`"),
        ("    bak: 5m", "p.yaml:6: waves[0].bak: unknown field; did you mean 'bake'? the fields here are name, select, bake, gates"),
        ("    select: {roles: [detector], rack_percent: 150}", "p.yaml:5: waves[0].select.rack_percent: 150 is not a percentage from 1 to 100; write `rack_percent: 10`"),
        ("    gates: {max_refusals: -1}", "p.yaml:7: waves[0].gates.max_refusals: -1 is negative; write `max_refusals: 0`"),
        ("  - name: rest", "p.yaml:8: waves[1].name: 'rest' also names the wave at line 4; give each wave its own name"),
    ])
    func aMistakeInAPolicyFileNamesItsLineAndFieldAndSaysWhatToWrite(line: String, message: String) {
        var lines = Self.policy.split(separator: "\n").map(String.init)
        if line.hasPrefix("  - name: rest") {
            lines[3] = "  - name: rest"
        } else if line.contains("select") {
            lines[4] = line
        } else if line.contains("gates") {
            lines[6] = line
        } else {
            lines[5] = line
        }
        let reading = RolloutPolicy.read(yaml: lines.joined(separator: "\n"), file: "p.yaml")
        #expect(reading.policy == nil)
        #expect(reading.errors.map(\.description) == [message])
    }

    @Test func aPolicyOfNoWavesOrAnUnknownOnFailureIsRefused() {
        let none = RolloutPolicy.read(yaml: "on_failure: undo\nwaves: []\n", file: "p.yaml")
        #expect(none.errors.map(\.description) == [
            "p.yaml:1: on_failure: 'undo' is not stay or rollback; write `on_failure: rollback` to roll the reached nodes back when a gate fails, or `stay`",
            "p.yaml:2: waves: no waves; write one `- name: …` entry per wave, in order",
        ])
    }

    @Test func wavesWrittenAsFlagsReadTheSame() throws {
        let policy = try RolloutPolicy.fromFlags(
            waves: ["name=canary,roles=detector,bake=5m,max-refusals=0,max-missing=1,max-alerts=0", "name=rest"], onFailure: "rollback")
        let file = try #require(RolloutPolicy.read(yaml: Self.policy, file: "p.yaml").policy)
        #expect(policy == file)
        let two = try RolloutPolicy.wave(flag: "nodes=a1+a2,locations=eu/a,rack_percent=50,bake=1h30m", index: 1)
        #expect(two.select.nodes == ["a1", "a2"] && two.select.locations == ["eu/a"] && two.select.rackPercent == 50)
        #expect(two.bake == .seconds(5400) && two.name == "wave-1")
    }

    @Test(arguments: [
        (["bake=5x"], "--wave 1: bake: '5x' is not a duration such as 30s, 5m, 1h30m or 500ms (at most 7 days); write bake=5m"),
        (["roles=proxy", "rols=detector"], "--wave 2: rols: unknown field; did you mean roles? the fields are name, roles, locations, nodes, rack-percent, bake, max-refusals, max-missing, max-alerts"),
        (["name=a", "name=a"], "--wave 2: name: 'a' also names wave 1; give each wave its own name"),
        (["max-missing=lots"], "--wave 1: max-missing: 'lots' is not a whole number; write max-missing=0"),
        (["canary"], "--wave 1: 'canary' is not field=value; write fields as name=canary,roles=detector,bake=5m"),
    ])
    func aMistakeInAWaveFlagNamesTheFlagAndField(flags: [String], message: String) {
        let error = #expect(throws: PolicyFlagError.self) { try RolloutPolicy.fromFlags(waves: flags, onFailure: nil) }
        #expect(error?.description == message)
    }

    @Test func wavesTakeTheTargetsNoEarlierWaveTook() throws {
        let policy = try #require(RolloutPolicy.read(yaml: Self.policy, file: "p.yaml").policy)
        let waves = try policy.resolve(in: topology, targets: everyNode)
        #expect(waves == [WaveTargets(name: "canary", nodes: ["a3", "b2"]), WaveTargets(name: "rest", nodes: ["a1", "a2", "b1"])])
    }

    @Test func aPercentageOfEachRackRoundsUpAndTakesAtLeastOneNode() throws {
        let policy = RolloutPolicy(waves: [.init(name: "half", select: .init(rackPercent: 50)), .init(name: "rest")])
        let waves = try policy.resolve(in: topology, targets: everyNode)
        // eu/a/r1 has a1, a2, a3: half rounded up is 2; eu/b/r1 has b1, b2: 1.
        #expect(waves[0].nodes == ["a1", "a2", "b1"])
        #expect(waves[1].nodes == ["a3", "b2"])
    }

    @Test func anUnknownNameAnEmptyWaveAndTargetsInNoWaveAreRefused() {
        let unknown = RolloutPolicy(waves: [.init(name: "canary", select: .init(roles: ["detektor"])), .init(name: "rest")])
        let misspelt = #expect(throws: TopologyError.self) { try unknown.resolve(in: topology, targets: everyNode) }
        #expect(misspelt?.description.hasPrefix("waves[0].select.roles: unknown role 'detektor' (nearest: detector)") == true, "\(String(describing: misspelt))")
        // Deploying to proxies only: the detector-only canary has nothing left to take.
        let proxies = everyNode.filter { topology.nodes[$0].roles.contains(.proxy) }
        let canary = RolloutPolicy(waves: [.init(name: "only-b", select: .init(nodes: ["b2"])), .init(name: "rest")])
        let empty = #expect(throws: TopologyError.self) { try canary.resolve(in: topology, targets: proxies) }
        #expect(empty?.description == "waves[0]: wave only-b (node b2) takes none of this deployment's 2 targets; nothing was done; change its selector, or remove the wave")
        let partial = RolloutPolicy(waves: [.init(name: "detectors", select: .init(roles: ["detector"]))])
        let left = #expect(throws: TopologyError.self) { try partial.resolve(in: topology, targets: everyNode) }
        #expect(left?.description == "waves: the waves take 2 of 5 targets; 3 are in no wave (a1, a2, b1); nothing was done; add a last wave with no selector (every target left)")
    }
}
