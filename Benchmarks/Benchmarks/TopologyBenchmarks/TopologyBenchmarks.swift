import BenCore
import BenTopology
import Benchmark

/// Micro-benchmarks of BenTopology on a 10 000-node generated fleet: planning, pricing, hashing's input.
let benchmarks: @Sendable () -> Void = {
    let topology = TopologyGenerator.generate(
        .init(regions: 2, zonesPerRegion: 3, racksPerZone: 10, nodes: 10_000, seed: 1))
    let deployment = Deployment(version: 7, topologyKey: Key(digest: [UInt8](repeating: 1, count: 32)))
    let planner = Planner()
    let planned = try! planner.plan(topology, deployment)
    var plainDeployment = deployment
    plainDeployment.stripes = 1
    let plain = try! planner.plan(topology, plainDeployment)
    let model = CostModel(topology: topology)

    Benchmark("Plan 10 000 nodes", configuration: .init(metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident])) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try planner.plan(topology, deployment)) }
    }
    Benchmark("Cost report (striped, plain tree, star), 10 000 nodes", configuration: .init(metrics: [.wallClock])) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(model.report(striped: planned, plainTree: plain, bundleSize: 1 << 30))
        }
    }
    Benchmark("Topology canonical bytes, 10 000 nodes", configuration: .init(metrics: [.wallClock, .throughput])) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(topology.canonicalBytes) }
    }
    let yaml = topology.yaml()
    Benchmark("Read and validate a 10 000-node topology file", configuration: .init(metrics: [.wallClock])) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(Topology.read(yaml: yaml, file: "fleet.yaml")) }
    }
}
