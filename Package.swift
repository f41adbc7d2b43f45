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
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let grdb = Target.Dependency.product(name: "GRDB", package: "GRDB.swift")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "Ben",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "benctl", targets: ["benctl"]),
        // Libraries for embedding (a Swift component reads its policy in-process) and for Benchmarks/.
        .library(name: "BenCore", targets: ["BenCore"]),
        .library(name: "BenCrypto", targets: ["BenCrypto"]),
        .library(name: "BenStore", targets: ["BenStore"]),
        .library(name: "BenTopology", targets: ["BenTopology"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
    ],
    targets: [
        // C stays behind one door each: only BenNATS imports CNats, only BenCrypto imports CSodium.
        .systemLibrary(name: "CNats", pkgConfig: "libnats", providers: [.apt(["libnats-dev"])]),
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),

        .target(name: "BenCore", swiftSettings: swiftSettings),
        .target(name: "BenCrypto", dependencies: ["BenCore", "CSodium"], swiftSettings: swiftSettings),
        .target(name: "BenStore", dependencies: ["BenCore", "BenCrypto"], swiftSettings: swiftSettings),
        .target(name: "BenProtocol", dependencies: ["BenCore", nioCore], swiftSettings: swiftSettings),
        .target(name: "BenPeerLink", dependencies: ["BenProtocol", nioCore, nioPosix, logging], swiftSettings: swiftSettings),
        .target(
            name: "BenLedger",
            dependencies: ["BenCore", "BenCrypto", "BenStore", "BenProtocol", "BenPeerLink", grdb, logging, nioCore, nioPosix],
            swiftSettings: swiftSettings),
        // Topology files, validation, the planner and the cost model: pure (no IO, clock or randomness).
        .target(
            name: "BenTopology", dependencies: ["BenCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings),
        .target(
            name: "BenTestKit", dependencies: ["BenCore", "BenCrypto", "BenStore", "BenProtocol", nioCore],
            swiftSettings: swiftSettings),

        .executableTarget(
            name: "benctl",
            dependencies: ["BenCore", "BenCrypto", "BenStore", "BenTopology", argumentParser, logging],
            swiftSettings: swiftSettings),

        .testTarget(name: "BenCoreTests", dependencies: ["BenCore", "BenTestKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "BenCryptoTests", dependencies: ["BenCrypto", "BenCore", "BenTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BenStoreTests", dependencies: ["BenStore", "BenCrypto", "BenCore", "BenTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BenProtocolTests", dependencies: ["BenProtocol", "BenCore", "BenTestKit", nioCore],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BenPeerLinkTests",
            dependencies: ["BenPeerLink", "BenProtocol", "BenCore", "BenTestKit", nioCore, nioPosix, nioEmbedded, logging],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BenLedgerTests",
            dependencies: ["BenLedger", "BenProtocol", "BenCore", "BenCrypto", "BenStore", "BenTestKit", grdb],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BenTopologyTests", dependencies: ["BenTopology", "BenCore", "BenTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BenctlTests", dependencies: ["BenCore", "BenCrypto", "BenStore", "BenTopology", "BenTestKit"],
            swiftSettings: swiftSettings),
    ]
)
