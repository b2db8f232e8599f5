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
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
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
