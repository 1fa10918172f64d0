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
        .executable(name: "homehub-bench", targets: ["homehub-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "HubCore",
            dependencies: [.product(name: "OrderedCollections", package: "swift-collections")],
            swiftSettings: strict,
            linkerSettings: [.linkedLibrary("m")]  // Int64(exactly: Double) calls libm's rounding
        ),
        .target(name: "HubStore", dependencies: ["HubCore", "CSQLite"], swiftSettings: strict),
        .executableTarget(name: "homehub-bench", dependencies: ["HubCore", "HubStore"], swiftSettings: strict),
        .executableTarget(name: "homehub-store-writer", dependencies: ["HubCore", "HubStore"], swiftSettings: strict),
        .testTarget(
            name: "HubCoreTests",
            dependencies: ["HubCore", .product(name: "PropertyBased", package: "swift-property-based")],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(name: "HubStoreTests", dependencies: ["HubCore", "HubStore"], swiftSettings: strict),
    ]
)
