// swift-tools-version: 6.1
// Ben: carries declared intent from one ledger to a fleet and activates it everywhere, or says where it did not.
// The target graph below is DESIGN.md §4; dependencies point inward only.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
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
        .library(name: "BenIntent", targets: ["BenIntent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-atomics", exact: "1.3.0"),
    ],
    targets: [
        // C stays behind one door each: only BenNATS imports CNats, only BenCrypto imports CSodium.
        .systemLibrary(name: "CNats", pkgConfig: "libnats", providers: [.apt(["libnats-dev"])]),
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),

        .target(name: "BenCore", swiftSettings: swiftSettings),
        .target(name: "BenCrypto", dependencies: ["BenCore", "CSodium"], swiftSettings: swiftSettings),
        .target(name: "BenStore", dependencies: ["BenCore", "BenCrypto"], swiftSettings: swiftSettings),
        .target(
            name: "BenIntent",
            dependencies: [
                "BenCore", .product(name: "Yams", package: "Yams"), .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: swiftSettings),
        .target(name: "BenTestKit", dependencies: ["BenCore", "BenCrypto", "BenStore"], swiftSettings: swiftSettings),

        .executableTarget(
            name: "benctl",
            dependencies: ["BenCore", "BenCrypto", "BenStore", "BenIntent", argumentParser, logging],
            swiftSettings: swiftSettings),
        // Runs cel-spec's simple-test files through BenIntent's expression engine (`make conformance`).
        .executableTarget(
            name: "ben-conformance", dependencies: ["BenCore", "BenIntent", argumentParser],
            swiftSettings: swiftSettings),

        .testTarget(name: "BenCoreTests", dependencies: ["BenCore", "BenTestKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "BenCryptoTests", dependencies: ["BenCrypto", "BenCore", "BenTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BenStoreTests", dependencies: ["BenStore", "BenCrypto", "BenCore", "BenTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BenIntentTests", dependencies: ["BenIntent", "BenCore", "BenTestKit"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "BenConformanceTests", dependencies: ["ben-conformance", "BenIntent"], swiftSettings: swiftSettings),
        .testTarget(
            name: "BenctlTests", dependencies: ["BenCore", "BenCrypto", "BenStore", "BenTestKit"],
            swiftSettings: swiftSettings),
    ]
)
