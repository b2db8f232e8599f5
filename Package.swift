// swift-tools-version:6.1
import PackageDescription

/// One list for every target, so the whole package is held to the same rules.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "otpgate",
    products: [
        // The only libraries outside code may bind to: the client and its wire types.
        // The store, the server and the config are internals of the daemon.
        .library(name: "OTPGateClient", targets: ["OTPGateClient"]),
        .library(name: "OTPGateProtocol", targets: ["OTPGateProtocol"]),
        .executable(name: "otpgated", targets: ["otpgated"]),
        .executable(name: "otpgate", targets: ["otpgate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "OTPCore",
            dependencies: ["COpenSSL"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OTPGateStore",
            dependencies: [
                "OTPCore",
                "COpenSSL",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OTPGateProtocol",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "otpgate-store-harness",
            dependencies: ["OTPGateStore", "OTPCore", .product(name: "Logging", package: "swift-log")],
            path: "Tests/StoreHarness",
            swiftSettings: swiftSettings
        ),
        .target(name: "COTPGateSystem"),
        .systemLibrary(
            name: "CQREncode",
            pkgConfig: "libqrencode",
            providers: [.apt(["libqrencode-dev"])]
        ),
        .target(
            name: "OTPGateClient",
            dependencies: [
                "OTPGateProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Parsers for other tools' files (google-authenticator, pam_oath, otpauth
        // exports, PSKC): pure apart from reading files, used by the CLI.
        .target(
            name: "OTPGateImport",
            dependencies: ["OTPCore", "OTPGateProtocol", "COpenSSL"],
            swiftSettings: swiftSettings
        ),
        // Shared by the daemon and the CLI (doctor reads the daemon's config); no store.
        .target(name: "OTPGateVersion", swiftSettings: swiftSettings),
        .target(name: "OTPGateConfig", dependencies: ["OTPGateProtocol"], swiftSettings: swiftSettings),
        .target(
            name: "OTPGateServer",
            dependencies: [
                "OTPCore", "OTPGateStore", "OTPGateProtocol", "OTPGateConfig", "OTPGateVersion", "COTPGateSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "otpgated",
            dependencies: [
                "OTPGateServer", "OTPGateStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "otpgate",
            dependencies: [
                // Never the store or the server: `swift build --product otpgate` builds
                // no GRDB and no ServiceLifecycle (README, layout).
                "OTPGateClient", "OTPGateProtocol", "OTPCore", "OTPGateConfig", "OTPGateVersion", "CQREncode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                "OTPGateImport",
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "otpgate-bench",
            dependencies: [
                "OTPCore", "OTPGateStore", "OTPGateProtocol", "OTPGateClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                // Only to reset the limiter of a reused population between scenarios.
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The test fixtures, one copy of each, for every test target: the daemon
        // launcher, the process spawner, throwaway users, enrolled tokens, the raw
        // line client.
        .target(
            name: "OTPGateTestSupport",
            dependencies: ["OTPCore", "OTPGateProtocol"],
            path: "Tests/Support",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPGateStoreTests",
            dependencies: [
                "OTPGateStore", "OTPCore", "otpgate-store-harness", "OTPGateTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPGateServerTests",
            dependencies: [
                "OTPGateServer", "OTPGateConfig", "OTPGateProtocol", "OTPGateStore",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPGateDaemonTests",
            dependencies: [
                "otpgated", "OTPCore", "OTPGateStore", "OTPGateProtocol", "OTPGateTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // A service outside this package's programs, checking a code through
        // OTPGateClient; the CLI tests run it. A test helper, so it lives under Tests/
        // (like the store harness) and is not a product.
        .executableTarget(
            name: "otpgate-client-example",
            dependencies: ["OTPGateClient", "OTPGateProtocol"],
            path: "Tests/ClientExample",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPGateCLITests",
            dependencies: [
                "otpgate", "otpgated", "otpgate-client-example", "OTPCore", "OTPGateClient", "OTPGateProtocol",
                "OTPGateTestSupport",
            ],
            exclude: ["enroll_pty.py"],
            swiftSettings: swiftSettings
        ),
        // A process that embeds the client beside a timer and calls a daemon that never
        // answers; OTPGateClientTests runs it (a process of its own, so that no other
        // test's threads disturb the timer it measures).
        .executableTarget(
            name: "otpgate-client-probe",
            dependencies: ["OTPGateClient", "OTPGateTestSupport"],
            path: "Tests/ClientProbe",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPGateClientTests",
            dependencies: ["OTPGateClient", "OTPGateProtocol", "otpgate-client-probe", "OTPGateTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPGateProtocolTests",
            dependencies: ["OTPGateProtocol"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPGateImportTests",
            dependencies: ["OTPGateImport", "OTPCore", "OTPGateProtocol"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPCoreTests",
            dependencies: ["OTPCore"],
            swiftSettings: swiftSettings
        ),
    ]
)
