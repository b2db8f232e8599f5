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
        .library(name: "OTPCore", targets: ["OTPCore"]),
        .library(name: "OTPGateStore", targets: ["OTPGateStore"]),
        .library(name: "OTPGateProtocol", targets: ["OTPGateProtocol"]),
        .library(name: "OTPGateServer", targets: ["OTPGateServer"]),
        .library(name: "OTPGateClient", targets: ["OTPGateClient"]),
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
            dependencies: ["OTPGateProtocol"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OTPGateServer",
            dependencies: [
                "OTPCore", "OTPGateStore", "OTPGateProtocol", "COTPGateSystem",
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
                "OTPGateClient", "OTPGateProtocol", "OTPCore", "OTPGateServer", "OTPGateStore", "CQREncode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "otpgate-bench",
            dependencies: [
                "OTPCore", "OTPGateStore", "OTPGateProtocol", "OTPGateClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPGateStoreTests",
            dependencies: [
                "OTPGateStore", "OTPCore", "otpgate-store-harness",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPGateServerTests",
            dependencies: ["OTPGateServer", "OTPGateProtocol", "OTPGateStore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPGateDaemonTests",
            dependencies: [
                "otpgated", "OTPCore", "OTPGateStore", "OTPGateProtocol",
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
            ],
            exclude: ["enroll_pty.py"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPGateProtocolTests",
            dependencies: ["OTPGateProtocol"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPCoreTests",
            dependencies: ["OTPCore"],
            swiftSettings: swiftSettings
        ),
    ]
)
