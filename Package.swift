// swift-tools-version: 6.1
import PackageDescription

// Layers point down: executables wire modules together; HubCore knows no I/O.
// See DESIGN.md ("Parts and where they live") and docs/architecture.md.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "homehub",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "HubCore", targets: ["HubCore"]),
        .library(name: "HubStore", targets: ["HubStore"]),
        .library(name: "HubPluginKit", targets: ["HubPluginKit"]),
        .executable(name: "homehubd", targets: ["homehubd"]),
        .executable(name: "hubctl", targets: ["hubctl"]),
        .executable(name: "homehub-bench", targets: ["homehub-bench"]),
        // The embedded broker's access plugin, loaded by mosquitto (libhomehub-broker-plugin.so).
        .library(name: "homehub-broker-plugin", type: .dynamic, targets: ["HubBrokerPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "HubCore",
            dependencies: [
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: strict,
            linkerSettings: [.linkedLibrary("m")]  // Int64(exactly: Double) calls libm's rounding
        ),
        .target(name: "HubStore", dependencies: ["HubCore", "CSQLite"], swiftSettings: strict),
        .systemLibrary(name: "CMosquitto", path: "Sources/CMosquitto", providers: [.apt(["libmosquitto-dev"])]),
        .systemLibrary(name: "CSpawn", path: "Sources/CSpawn"),
        .target(name: "HubProcess", dependencies: ["CSpawn", "HubCore"], swiftSettings: strict),
        .target(
            name: "HubPlugins",
            dependencies: ["HubCore", "HubProcess", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // C, because mosquitto loads it: roles over topics, the sender's identity on each message.
        .target(
            name: "HubBrokerPlugin", path: "Sources/HubBrokerPlugin",
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Werror"])],
            linkerSettings: [.linkedLibrary("crypto"), .linkedLibrary("mosquitto")]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", providers: [.apt(["libssl-dev"])]),
        .target(name: "HubCrypto", dependencies: ["COpenSSL", "HubProcess", "HubCore"], swiftSettings: strict),
        .systemLibrary(name: "CSystemd", path: "Sources/CSystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(
            name: "HubSystemd", dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .target(
            name: "HubAPI",
            dependencies: [
                "HubCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "HubMQTT",
            dependencies: ["CMosquitto", "HubCore", "HubProcess", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "HubDaemon",
            dependencies: [
                "HubCore", "HubStore", "HubMQTT", "HubAPI", "HubProcess", "HubSystemd", "HubPlugins", "HubCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "homehubd",
            dependencies: [
                "HubDaemon", "HubProcess", "HubSystemd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .target(name: "HubPluginKit", dependencies: ["HubCore", "HubProcess"], swiftSettings: strict),
        .executableTarget(
            name: "homehub-plugin-heater", dependencies: ["HubPluginKit", "HubCore"], path: "Plugins/heater/Sources",
            swiftSettings: strict),
        .executableTarget(
            name: "homehub-plugin-doorlock", dependencies: ["HubPluginKit", "HubCore"], path: "Plugins/doorlock/Sources",
            swiftSettings: strict),
        .executableTarget(
            name: "homehub-plugin-motor", dependencies: ["HubPluginKit", "HubCore"], path: "Plugins/motor/Sources",
            swiftSettings: strict),
        .executableTarget(
            name: "homehub-plugin-zigbee2mqtt", dependencies: ["HubPluginKit", "HubCore", "HubMQTT"],
            path: "Plugins/zigbee2mqtt/Sources", swiftSettings: strict),
        .target(
            name: "HubClient",
            dependencies: [
                "HubCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "hubctl",
            dependencies: [
                "HubCore", "HubClient", "HubPlugins", "HubProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "homehub-bench", dependencies: ["HubCore", "HubStore", "HubMQTT", "HubProcess", "HubClient"],
            swiftSettings: strict),
        .target(
            name: "HubFuzz",
            dependencies: [
                "HubCore", "HubPlugins", "HubProcess", "HubAPI", "HubDaemon", "HubCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        // libFuzzer's entry point, and a replayer of saved inputs when built without it (make fuzz).
        .systemLibrary(name: "CLibFuzzer", path: "Sources/CLibFuzzer"),
        .executableTarget(
            name: "homehub-fuzz", dependencies: ["HubFuzz", "HubProcess", "CLibFuzzer"], swiftSettings: strict),
        .executableTarget(name: "homehub-store-writer", dependencies: ["HubCore", "HubStore"], swiftSettings: strict),
        .testTarget(
            name: "HubCoreTests",
            dependencies: ["HubCore", .product(name: "PropertyBased", package: "swift-property-based")],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(name: "HubStoreTests", dependencies: ["HubCore", "HubStore"], swiftSettings: strict),
        .testTarget(
            name: "HubPluginsTests", dependencies: ["HubCore", "HubPlugins"], exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "HubFuzzTests", dependencies: ["HubFuzz"], swiftSettings: strict),
        .testTarget(
            name: "HubDaemonTests",
            dependencies: [
                "HubDaemon", "HubCore", "HubStore", "HubPlugins", "HubCrypto", "HubProcess",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "HubPluginKitTests", dependencies: ["HubCore", "HubPluginKit", "HubProcess"], swiftSettings: strict),
    ]
)
