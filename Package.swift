// swift-tools-version: 6.1
// Ben: carries declared intent from one ledger to a fleet and activates it everywhere, or says where it did not.
// The target graph below is DESIGN.md §4; dependencies point inward only.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let nioEmbedded = Target.Dependency.product(name: "NIOEmbedded", package: "swift-nio")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let grdb = Target.Dependency.product(name: "GRDB", package: "GRDB.swift")
let yams = Target.Dependency.product(name: "Yams", package: "Yams")
let atomics = Target.Dependency.product(name: "Atomics", package: "swift-atomics")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let collections = Target.Dependency.product(name: "Collections", package: "swift-collections")
let coreMetrics = Target.Dependency.product(name: "CoreMetrics", package: "swift-metrics")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let prometheus = Target.Dependency.product(name: "Prometheus", package: "swift-prometheus")
let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let configuration = Target.Dependency.product(name: "Configuration", package: "swift-configuration")
let systemPackage = Target.Dependency.product(name: "SystemPackage", package: "swift-system")
let subprocess = Target.Dependency.product(name: "Subprocess", package: "swift-subprocess")

let package = Package(
    name: "Ben",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "benctl", targets: ["benctl"]),
        .executable(name: "ben-ledger", targets: ["ben-ledger"]),
        .executable(name: "ben-agent", targets: ["ben-agent"]),
        .executable(name: "ben-sim", targets: ["ben-sim"]),
        // Libraries for embedding (a Swift component reads its policy in-process) and for Benchmarks/.
        .library(name: "BenAgent", targets: ["BenAgent"]),
        .library(name: "BenCore", targets: ["BenCore"]),
        .library(name: "BenCrypto", targets: ["BenCrypto"]),
        .library(name: "BenStore", targets: ["BenStore"]),
        .library(name: "BenNATS", targets: ["BenNATS"]),
        .library(name: "BenIntent", targets: ["BenIntent"]),
        .library(name: "BenTopology", targets: ["BenTopology"]),
        .library(name: "BenProtocol", targets: ["BenProtocol"]),
        .library(name: "BenLedger", targets: ["BenLedger"]),
        .library(name: "BenSim", targets: ["BenSim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics", exact: "1.3.0"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections", exact: "1.6.0"),
        // Operations (DESIGN §9): metrics, their Prometheus exposition, the HTTP listener, config files.
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-configuration", exact: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/apple/swift-system", exact: "1.8.1"),
        // The test kit runs programs to completion with it (ProcessRunner.run).
        .package(url: "https://github.com/swiftlang/swift-subprocess", exact: "1.0.2"),
    ],
    targets: [
        // C stays behind one door each: only BenNATS imports CNats, only BenCrypto imports CSodium.
        .systemLibrary(name: "CNats", pkgConfig: "libnats", providers: [.apt(["libnats-dev"])]),
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),

        // Pure cores.
        .target(name: "BenCore", swiftSettings: swiftSettings),
        // The one reader of Ben's YAML files (topology files, scenarios, intent sources): fields checked against the
        // names allowed, located problems, syntax errors. Pure, like the cores that use it.
        .target(name: "BenYAML", dependencies: ["BenCore", yams], swiftSettings: swiftSettings),
        .target(name: "BenIntent", dependencies: ["BenCore", "BenYAML", yams, atomics], swiftSettings: swiftSettings),
        // Topology files, validation, the planner and the cost model.
        .target(name: "BenTopology", dependencies: ["BenCore", "BenYAML", yams], swiftSettings: swiftSettings),
        .target(name: "BenProtocol", dependencies: ["BenCore", nioCore], swiftSettings: swiftSettings),

        // IO around the cores. BenFiles is the one way a file is written whole or not at all (temp file, fsync,
        // rename, folder fsync), over swift-system, for the store, key files, the agent's state, benctl and ben-sim.
        .target(name: "BenFiles", dependencies: [systemPackage], swiftSettings: swiftSettings),
        .target(name: "BenCrypto", dependencies: ["BenCore", "BenFiles", "CSodium"], swiftSettings: swiftSettings),
        // syncfs(2) and mallopt(3), which Swift's Glibc module leaves out: the store makes a bundle durable with one
        // call, and the daemons keep chunk-sized buffers out of the heap.
        .target(name: "CFileSync"),
        .target(name: "BenStore", dependencies: ["BenCore", "BenCrypto", "BenFiles", "CFileSync"], swiftSettings: swiftSettings),
        .target(name: "BenNATS", dependencies: ["BenCore", "CNats", logging, coreMetrics], swiftSettings: swiftSettings),
        .target(
            name: "BenPeerLink", dependencies: ["BenCore", "BenCrypto", "BenProtocol", "BenMetrics", nioCore, nioPosix, logging, atomics],
            swiftSettings: swiftSettings),
        // One shell runtime for the agent and the ledger: child tasks, timers, the clock, outbound links, and the gossip
        // datagram channel that drives both gossip machines.
        .target(
            name: "BenShell",
            dependencies: [
                "BenCore", "BenCrypto", "BenStore", "BenProtocol", "BenPeerLink", "BenMetrics", "BenNATS", "BenTopology", "CFileSync", nioCore,
                nioPosix, logging,
            ],
            swiftSettings: swiftSettings),

        // Operations (DESIGN §9, issue 18). BenMetrics names every metric the shells report (swift-metrics only, so a
        // shell that reports needs no HTTP); BenOperations exposes them, and health, logs, config files, the options
        // every daemon takes (`DaemonOptions`) and the ledger's status page, for the executables to wire.
        .target(name: "BenMetrics", dependencies: ["BenCore", "BenTopology", coreMetrics], swiftSettings: swiftSettings),
        .target(
            name: "BenOperations",
            dependencies: [
                "BenCore", "BenCrypto", "BenMetrics", "BenTopology", "BenYAML", argumentParser, hummingbird, prometheus, coreMetrics, metrics, logging,
                configuration, lifecycle, nioCore, yams, systemPackage,
            ],
            swiftSettings: swiftSettings),

        // The shells.
        .target(
            name: "BenLedger",
            dependencies: [
                "BenShell",
                "BenCore", "BenCrypto", "BenStore", "BenProtocol", "BenPeerLink", "BenNATS", "BenTopology", "BenMetrics", grdb, logging,
                nioCore, nioPosix,
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "BenAgent",
            dependencies: [
                "BenShell",
                "BenCore", "BenCrypto", "BenFiles", "BenIntent", "BenStore", "BenProtocol", "BenPeerLink", "BenNATS", "BenMetrics",
                "BenTopology", atomics, logging, nioCore, nioPosix,
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "BenTestKit", dependencies: ["BenCore", "BenCrypto", "BenStore", "BenProtocol", "BenSim", nioCore, subprocess, systemPackage],
            swiftSettings: swiftSettings),

        // The simulator (DESIGN §2, issue 8): a flow engine for fleets of 10^5-10^6 nodes, and a protocol engine that
        // drives the real BenProtocol machines over a simulated network. Its code and scenarios live under Sim/.
        .target(
            name: "BenSim", dependencies: ["BenCore", "BenCrypto", "BenFiles", "BenTopology", "BenProtocol", "BenYAML", yams, collections],
            path: "Sim/Sources/BenSim", swiftSettings: swiftSettings),

        // Executables: argument parsing and wiring only.
        .executableTarget(
            name: "benctl",
            dependencies: [
                "BenCore", "BenCrypto", "BenFiles", "BenStore", "BenIntent", "BenTopology", "BenNATS", argumentParser, logging, systemPackage,
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "ben-ledger",
            dependencies: [
                "BenLedger", "BenCore", "BenCrypto", "BenPeerLink", "BenShell", "BenTopology", "BenOperations", argumentParser, logging, lifecycle,
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "ben-agent",
            dependencies: [
                "BenAgent", "BenCore", "BenCrypto", "BenPeerLink", "BenShell", "BenTopology", "BenMetrics", "BenOperations", argumentParser, logging,
                lifecycle,
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "ben-sim", dependencies: ["BenSim", "BenCore", "BenTopology", argumentParser], path: "Sim/Sources/ben-sim",
            swiftSettings: swiftSettings),
        // Runs cel-spec's simple-test files through BenIntent's expression engine (`make conformance`).
        .executableTarget(
            name: "ben-conformance", dependencies: ["BenCore", "BenIntent", argumentParser], swiftSettings: swiftSettings),

        .testTarget(name: "BenCoreTests", dependencies: ["BenCore", "BenTestKit"], swiftSettings: swiftSettings),
        .testTarget(name: "BenCryptoTests", dependencies: ["BenCrypto", "BenCore", "BenStore", "BenTestKit"], swiftSettings: swiftSettings),
        .testTarget(name: "BenStoreTests", dependencies: ["BenStore", "BenCrypto", "BenCore", "BenTestKit"], swiftSettings: swiftSettings),
        .testTarget(name: "BenIntentTests", dependencies: ["BenIntent", "BenCore", "BenTestKit"], swiftSettings: swiftSettings),
        .testTarget(name: "BenConformanceTests", dependencies: ["ben-conformance", "BenIntent"], swiftSettings: swiftSettings),
        .testTarget(name: "BenNATSTests", dependencies: ["BenNATS", "BenCore", "BenCrypto", "BenTestKit", logging], swiftSettings: swiftSettings),
        .testTarget(name: "BenProtocolTests", dependencies: ["BenProtocol", "BenCore", "BenCrypto", "BenTestKit", nioCore], swiftSettings: swiftSettings),
        .testTarget(
            name: "BenPeerLinkTests",
            dependencies: [
                "BenPeerLink", "BenShell", "BenProtocol", "BenCore", "BenCrypto", "BenTopology", "BenTestKit", nioCore, nioPosix, nioEmbedded, logging,
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BenLedgerTests", dependencies: ["BenLedger", "BenProtocol", "BenCore", "BenCrypto", "BenStore", "BenTestKit", grdb],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BenSimTests", dependencies: ["BenSim", "BenCore", "BenCrypto", "BenTopology", "BenProtocol", "BenTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BenMeshTests",
            dependencies: ["BenCore", "BenCrypto", "BenNATS", "BenPeerLink", "BenShell", "BenProtocol", "BenStore", "BenTestKit", nioCore, nioPosix, logging],
            swiftSettings: swiftSettings),
        .testTarget(name: "BenYAMLTests", dependencies: ["BenYAML", "BenTestKit", yams], swiftSettings: swiftSettings),
        .testTarget(name: "BenTopologyTests", dependencies: ["BenTopology", "BenCore", "BenTestKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "BenOperationsTests",
            dependencies: ["BenOperations", "BenMetrics", "BenCore", "BenCrypto", "BenNATS", "BenTopology", "BenTestKit", logging],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BenctlTests", dependencies: ["BenCore", "BenCrypto", "BenStore", "BenTopology", "BenTestKit"],
            swiftSettings: swiftSettings),
    ]
)
