import BenCore
@testable import BenSim
import Foundation

/// Small scenarios for the simulator's tests (each runs in well under a second).
enum SimFixtures {
    /// A fleet in one rack whose every link is the same: uplink `uplink`, every tier 100 Gbit (never the bottleneck)
    /// with `latency`, so the tree strategies have closed forms.
    static func uniform(nodes: Int, bundle: String = "16MiB", chunk: String = "1MiB", uplink: String = "1Gbit", latency: String = "1ms") -> String {
        """
        format: ben/sim-scenario/v1
        name: uniform-\(nodes)
        seed: 5
        topology:
          generate: {regions: 1, zones: 1, racks: 1, nodes: \(nodes), seed: 3}
        bundle: {size: \(bundle), chunk: \(chunk)}
        links:
          uplink: \(uplink)
          ledger_uplink: \(uplink)
          in_rack: {bandwidth: 100Gbit, latency: \(latency)}
          cross_rack: {bandwidth: 100Gbit, latency: \(latency)}
          cross_zone: {bandwidth: 100Gbit, latency: \(latency)}
          cross_region: {bandwidth: 100Gbit, latency: \(latency)}
        strategies: [ben-tree, star, broker, binary-tree, chain, swarm]
        timing: {detection: 1s, orphan_after: 5s, stall_after: 5s, compile: 0s}
        """
    }

    /// A small multi-zone fleet with faults and a protocol run: the whole pipeline in a fraction of a second.
    static let small = """
        format: ben/sim-scenario/v1
        name: small
        description: 120 nodes, every strategy, every kind of fault, and the real machines.
        seed: 11
        topology:
          generate: {regions: 2, zones: 2, racks: 3, nodes: 120, seed: 2}
        bundle: {size: 32MiB, chunk: 1MiB}
        links:
          uplink: 10Gbit
          ledger_uplink: 10Gbit
          in_rack: {bandwidth: 25Gbit, latency: 20us}
          cross_rack: {bandwidth: 10Gbit, latency: 100us}
          cross_zone: {bandwidth: 10Gbit, latency: 1ms}
          cross_region: {bandwidth: 10Gbit, latency: 30ms}
        strategies: [ben-tree, star, broker, binary-tree, chain, swarm]
        faults:
          down: {fraction: 0.02}
          kill:
            - {at: 10ms, relays: 2}
          slow: {fraction: 0.05, factor: 0.25}
          partition: {zone: us-east/b, at: 5ms}
        timing: {detection: 1.5s, orphan_after: 10s, stall_after: 10s, compile: 20ms}
        blast_radius: {enabled: true, runs: 2}
        protocol:
          chunks: 8
          relay_failures: 0.1
          kill_window: [1ms, 20ms]
          deployments: 2
          deadline: 30s
          gremlin: {drop: 0.001, delay: 0.01, max_delay: 5ms}
        """

    static func scenario(_ yaml: String, file: String = "test.yaml") throws -> Scenario {
        try Scenario.read(yaml: yaml, file: file)
    }
}
