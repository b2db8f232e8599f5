// swift-tools-version:6.0
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
        .testTarget(
            name: "OTPCoreTests",
            dependencies: ["OTPCore"],
            swiftSettings: swiftSettings
        ),
    ]
)
