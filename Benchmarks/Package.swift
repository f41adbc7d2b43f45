// swift-tools-version: 6.1
// Ben's benchmarks (`make bench`), kept in their own package so that `make test` never builds them.
// - ben-bench: figures that compare Ben with a baseline in the same run (ratios), printed by run.sh;
// - Benchmarks/*: ordo-one micro-benchmarks (`swift package benchmark`).
import PackageDescription

let package = Package(
    name: "BenBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Ben", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        .executableTarget(
            name: "ben-bench",
            dependencies: [
                .product(name: "BenCore", package: "Ben"),
                .product(name: "BenCrypto", package: "Ben"),
                .product(name: "BenStore", package: "Ben"),
                .product(name: "BenNATS", package: "Ben"),
                .product(name: "BenTopology", package: "Ben"),
                .product(name: "BenIntent", package: "Ben"),
                .product(name: "BenProtocol", package: "Ben"),
                .product(name: "BenLedger", package: "Ben"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]),
        .executableTarget(
            name: "FoundationBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "BenCore", package: "Ben"),
                .product(name: "BenCrypto", package: "Ben"),
            ],
            path: "Benchmarks/FoundationBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        .executableTarget(
            name: "TopologyBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "BenCore", package: "Ben"),
                .product(name: "BenTopology", package: "Ben"),
            ],
            path: "Benchmarks/TopologyBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ]
)
