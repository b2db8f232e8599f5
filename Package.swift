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
    traits: [
        // Off by default, so a single-host build never compiles postgres-nio, swift-nio-ssl
        // and BoringSSL (docs/PERFORMANCE.md, build time). A verifier tier builds with
        // `swift build --traits Fleet`: the PostgreSQL store of a verifier tier, and the
        // TLS link between relays and the tier (docs/FLEET.md).
        .trait(name: "Fleet", description: "otpgated for a fleet: the PostgreSQL store (verifier tier) and the relay link"),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
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
        // The store contract (StoreContract) and what crosses it: models, errors, the
        // master key and sealing. The daemon's handler depends on this only.
        .target(
            name: "OTPGateStoreContract",
            dependencies: ["OTPCore", "COpenSSL"],
            swiftSettings: swiftSettings
        ),
        // The SQLite backend of the store contract (one host).
        .target(
            name: "OTPGateStore",
            dependencies: [
                "OTPCore", "OTPGateStoreContract",
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
                "OTPCore", "OTPGateStoreContract", "OTPGateStore", "OTPGateProtocol", "OTPGateConfig", "OTPGateVersion", "COTPGateSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The PostgreSQL connection layer: a pool of prepared connections that a blocking
        // caller uses with one deadline per call, the per-connection durability checks, and
        // the migration runner. Knows no schema: the SQL comes from its caller. The schema's
        // files go in Sources/OTPGatePostgres/SQL with `resources: [.embedInCode("SQL")]`
        // added here in the same commit (the rule needs the folder to exist).
        .target(
            name: "OTPGatePostgres",
            dependencies: [
                // The contract it implements (and KeyFile's checks for the password file).
                "OTPGateStoreContract", "OTPCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The schema (docs/POSTGRES.md), compiled in: an installed otpgated has no
            // resource bundle beside it.
            resources: [.embedInCode("SQL")],
            swiftSettings: swiftSettings
        ),
        // The relay link's TLS (docs/RELAY.md): certificates, keys with the master key's
        // file checks, TLS 1.3 configurations for the tier's listener and a relay, and a
        // peer certificate's identity. Only fleet builds link it (trait Fleet).
        .target(
            name: "OTPGateTLS",
            dependencies: [
                "OTPGateStoreContract", "COpenSSL",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The tier's TLS listener for relays (docs/RELAY.md): the same request path as
        // the public socket behind TLS 1.3 with client certificates. Trait Fleet only.
        .target(
            name: "OTPGateTierLink",
            dependencies: [
                "OTPGateServer", "OTPGateTLS", "OTPGateProtocol", "OTPGateConfig", "OTPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The relay (`mode = "relay"`): answers local callers by asking the verifier
        // tier over TLS (docs/RELAY.md). Built only with the Fleet trait.
        .target(
            name: "OTPGateRelay",
            dependencies: [
                "OTPGateServer", "OTPGateProtocol", "OTPGateConfig", "OTPCore", "OTPGateTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "otpgated",
            dependencies: [
                "OTPGateServer", "OTPGateStore",
                .target(name: "OTPGatePostgres", condition: .when(traits: ["Fleet"])),
                .target(name: "OTPGateTLS", condition: .when(traits: ["Fleet"])),
                .target(name: "OTPGateTierLink", condition: .when(traits: ["Fleet"])),
                .target(name: "OTPGateRelay", condition: .when(traits: ["Fleet"])),
                .product(name: "NIOSSL", package: "swift-nio-ssl", condition: .when(traits: ["Fleet"])),
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
                // COpenSSL: doctor reads a relay's certificate (libcrypto, already linked by OTPCore).
                "OTPGateClient", "OTPGateProtocol", "OTPCore", "OTPGateConfig", "OTPGateVersion", "CQREncode", "COpenSSL",
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
                "OTPGateStore", "OTPGateStoreContract", "OTPCore", "otpgate-store-harness", "OTPGateTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // One suite, run unchanged against every store backend.
        .testTarget(
            name: "OTPGateStoreContractTests",
            dependencies: [
                "OTPGateStoreContract", "OTPGateStore", "OTPGatePostgres", "OTPGatePostgresTestSupport", "OTPCore", "OTPGateTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPGateServerTests",
            dependencies: [
                // otpgated: built with the tests, for the socket-activation and
                // newer-store tests, which need the real program.
                "OTPGateServer", "OTPGateConfig", "OTPGateProtocol", "OTPGateStore", "OTPCore", "otpgated", "OTPGateTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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
            dependencies: ["OTPGateImport", "OTPCore", "OTPGateProtocol", "OTPGateTestSupport"],
            swiftSettings: swiftSettings
        ),
        // A real PostgreSQL 15 for tests (initdb into a temporary directory).
        .target(
            name: "OTPGatePostgresTestSupport",
            dependencies: ["OTPGatePostgres", "OTPGateTestSupport"],
            path: "Tests/PostgresSupport",
            swiftSettings: swiftSettings
        ),
        // Against a real PostgreSQL 15 that the tests start themselves (initdb, pg_ctl).
        .testTarget(
            name: "OTPGatePostgresTests",
            dependencies: [
                "OTPGatePostgres", "OTPGatePostgresTestSupport", "OTPGateStore", "OTPGateTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Real TLS over loopback with certificates openssl makes at test time.
        .testTarget(
            name: "OTPGateTLSTests",
            dependencies: [
                "OTPGateTLS", "OTPGateTestSupport",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Real TLS over loopback against an in-process tier (SQLite store).
        .testTarget(
            name: "OTPGateTierLinkTests",
            dependencies: [
                "OTPGateTierLink", "OTPGateTLS", "OTPGateServer", "OTPGateStore", "OTPGateStoreContract", "OTPGateProtocol",
                "OTPCore", "OTPGateTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The relay against a real TLS server in the test: endpoint order, the one
        // deadline, unknown outcomes.
        .testTarget(
            name: "OTPGateRelayTests",
            dependencies: [
                "OTPGateRelay", "OTPGateServer", "OTPGateProtocol", "OTPGateConfig", "OTPCore", "OTPGateTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPCoreTests",
            dependencies: ["OTPCore", "OTPGateTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
