import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import OTPGateServer
import OTPGateStore
import ServiceLifecycle
#if Fleet
import OTPGatePostgres
#endif
import UnixSignals

/// otpgated: parse flags, load config, bootstrap logging, run the daemon.
@main
struct OTPGated: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otpgated",
        abstract: "The otpgate daemon: the only process that holds one-time-code secrets.",
        discussion: """
            Exit status: 0 after a clean shutdown (SIGTERM or SIGINT), 1 when it cannot
            start (bad config, missing or wrong key, unsafe paths, socket in use, a
            missing or empty store beside an existing key, a store older than its
            generation file, a store written by a newer otpgate).
            """,
        version: RequestHandler.version)

    @Option(name: .long, help: "Config file (default /etc/otpgate/otpgated.toml if it exists).")
    var config: String?

    @Option(name: .customLong("state-dir"), help: "Put the store, the key and both sockets under this directory.")
    var stateDirectory: String?

    @Flag(name: .customLong("create-key"), help: "Create the master key file (the configured key_file) if missing, then exit. Used by 'make install' and the Debian package.")
    var createKey = false

    @Flag(name: .customLong("new-store"), help: "Create an empty store if it is missing, although the key exists (every user loses their tokens). Without it the daemon refuses to start then.")
    var newStore = false

    @Flag(name: .customLong("accept-rollback"), help: "Start on a store older than its generation file (a restored backup: used codes become usable again). Audited as store.rollback_accepted.")
    var acceptRollback = false

    @Option(name: .customLong("migrate-store"), help: "Tier node: apply the PostgreSQL schema's migrations as this role (otpgate_owner or a member of it) over the [store.postgres] connection, then exit. Refused when the database is newer than this otpgated.")
    var migrateRole: String?

    @Option(name: .customLong("migrate-password-file"), help: "With --migrate-store: the role's password file (mode 0600, owned by this user) or systemd credential name; default none (socket authentication).")
    var migratePasswordFile: String?

    @Option(name: .customLong("log-file"), help: "Append timestamped log lines to this file (mode 0640; reopened on SIGHUP, for logrotate) instead of standard error. For hosts without systemd.")
    var logFilePath: String?

    mutating func run() async throws {
        // Until the SIGHUP handler is installed, a SIGHUP (logrotate, an admin's
        // reload) must not kill the daemon, which is the default action.
        signal(SIGHUP, SIG_IGN)
        var logFile: LogFile?
        if let logFilePath {
            do {
                logFile = try LogFile(path: logFilePath)
            } catch {
                FileHandle.standardError.write(Data("otpgated cannot start: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
        LoggingSystem.bootstrap { [logFile] label in
            if let logFile { FileLogHandler(file: logFile) } else { JournalLogHandler(label: label) }
        }
        let logger = Logger(label: "otpgated")
        do {
            try await start(logger: logger, logFile: logFile)
        } catch {
            // One clear line on stderr (and so in the journal), then a non-zero exit.
            logger.critical("otpgated cannot start: \(error)")
            throw ExitCode(1)
        }
    }

    func start(logger: Logger, logFile: LogFile?) async throws {
        var settings = ServerConfig()
        var configPath: String? = config ?? "/etc/otpgate/otpgated.toml"
        var configFile: ConfigFile?
        if let path = configPath, config != nil || FileManager.default.fileExists(atPath: path) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw DaemonError("cannot read config file \(path)")
            }
            settings = try ServerConfig(parsing: text, name: path)
            configFile = try ConfigFile(parsing: text, name: path)
        } else {
            configPath = nil
        }
        if let dir = stateDirectory {
            let absolute = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
            settings.useStateDirectory(absolute)
            try DaemonSetup.prepareStateDirectory(absolute)
        }
        // Before the ownership checks: as root, their "chown" advice would be the wrong fix.
        if let advice = RootAdvice.check(config: settings) { throw DaemonError(advice) }
        try DaemonSetup.checkKeyDirectory(of: settings.keyFile)
        umask(0o077)
        if !ProcessHardening.disableCoreDumps() {
            logger.warning("could not disable core dumps; a crash could write secrets to disk")
        }
        if !ProcessHardening.makeFatalSignalsFatal() {
            logger.warning("could not reset the fatal signals' handlers; a crash report could print memory")
        }
        if createKey {
            var st = stat()
            if lstat(settings.keyFile, &st) == 0 {
                print("otpgated: master key \(settings.keyFile) exists; left as it is")
            } else if lstat(settings.databasePath, &st) == 0 && st.st_size > 0 {
                throw DaemonError(
                    "master key \(settings.keyFile) is missing but the store \(settings.databasePath) exists: restore the key from backup (a new key cannot open the store)")
            } else {
                let key = try MasterKey.generate()
                try KeyFile.write(key, to: settings.keyFile)
                print("otpgated: created master key \(settings.keyFile) (key id \(key.id)); back it up")
                // The daemon's first start may then create the store beside this key.
                if lstat(settings.databasePath, &st) != 0 {
                    let marker = DaemonSetup.newStoreMarker(settings)
                    mkdir(settings.stateDirectory, 0o700)  // as the store would make it; fails harmlessly if there
                    if !FileManager.default.createFile(atPath: marker, contents: nil, attributes: [.posixPermissions: 0o600]) {
                        print("otpgated: could not write \(marker): start the daemon once with --new-store")
                    }
                }
            }
            return
        }
        if let migrateRole {
            guard settings.store.backend == .postgres else { throw DaemonError("--migrate-store needs store.backend = \"postgres\" in the config") }
            #if Fleet
            print(try await TierStore.migrate(settings.store.postgres, role: migrateRole, passwordFile: migratePasswordFile, logger: logger))
            return
            #else
            throw DaemonError("--migrate-store needs an otpgated built with the PostgreSQL store (--traits Fleet)")
            #endif
        }
        raiseFileLimit()

        let environment = ProcessInfo.processInfo.environment
        if settings.mode == .relay {
            #if Fleet
            return try await RelayMode.run(
                settings: settings, flags: self, configPath: configPath, configFile: configFile, logFile: logFile,
                environment: environment, logger: logger)
            #else
            throw DaemonError(
                "mode = \"relay\", but this otpgated was built without the relay: build it with `swift build --traits Fleet` (or `make install SWIFT_FLAGS=\"--traits Fleet\"`)")
            #endif
        }
        let (loaded, keySource, keyCreated) = try DaemonSetup.loadOrCreateKey(
            config: settings, credentialsDirectory: environment["CREDENTIALS_DIRECTORY"], logger: logger)
        var key = loaded
        // A tier node may hold the next key beside it (master.key.next: TierKeys).
        var nextKey: MasterKey?
        if settings.store.backend == .postgres && !KeyFile.isCredential(keySource) {
            (key, nextKey) = try TierKeys.loadNext(keyFile: keySource, current: key, localStorePath: settings.databasePath)
        }
        let (store, created) = try DaemonSetup.openStore(
            config: settings, key: key, keySource: keySource, keyCreated: keyCreated, newStore: newStore, logger: logger,
            now: RequestHandler.systemTime())
        try DaemonSetup.checkGeneration(
            store: store, config: settings, created: created, besideExistingKey: !keyCreated, acceptRollback: acceptRollback,
            logger: logger,
            now: RequestHandler.systemTime())

        let clock = ClockMonitor(logger: logger)
        clock.check()
        let (handlerStore, tierKeys) = try Self.handlerStore(
            local: store, settings: settings, key: key, next: nextKey, keySource: keySource, logger: logger)
        // Before serving: finishes this node's part of a tier rekey that finished.
        tierKeys?.settle(now: RequestHandler.systemTime())
        let handler = RequestHandler(
            store: handlerStore, config: settings, clock: clock, logger: logger, keySource: keySource, tierKeys: tierKeys)
        var sockets = ListenerSocket.fromSystemd(environment: environment, config: settings)
        for kind in [SocketKind.public, .admin] where !sockets.contains(where: { $0.kind == kind }) {
            sockets.append(ListenerSocket(kind: kind, path: kind == .public ? settings.socketPath : settings.adminSocketPath))
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = NIOThreadPool(numberOfThreads: settings.workerThreads)
        pool.start()
        let daemon = Daemon(
            config: settings, handler: handler, sockets: sockets, logger: logger, group: group, pool: pool,
            onReady: { SystemdNotify.send("READY=1", environment: environment) },
            onStopping: { SystemdNotify.send("STOPPING=1", environment: environment) })
        // [tier_listener]: the TLS listener for relays (TierLink.swift, trait Fleet).
        let tierLink = try TierLink.services(settings: settings, configPath: configPath, handler: handler, group: group, logger: logger)
        // SIGHUP also makes a tier node check the tier's key at once (TierKeys).
        var onHangup: (@Sendable () -> Void)?
        if let tierKeys { onHangup = { tierKeys.settle(now: RequestHandler.systemTime()) } }
        let services = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: HangupHandler(
                        configPath: configPath, running: configFile, logFile: logFile, logger: logger,
                        also: onHangup)),
                ] + daemon.housekeeping(environment: environment) + tierLink,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await services.run()
        DaemonSetup.advanceGeneration(store: store, config: settings, logger: logger)
        handlerStore.close()
        try await pool.shutdownGracefully()
        try await group.shutdownGracefully()
    }

    /// What the request handler asks: this host's store, or on a tier node the shared
    /// PostgreSQL store with the local users kept in this host's store (`[store]`).
    static func handlerStore(
        local: OTPStore, settings: ServerConfig, key: MasterKey, next: MasterKey?, keySource: String, logger: Logger
    ) throws -> (any StoreContract, TierKeys?) {
        guard settings.store.backend == .postgres else { return (local, nil) }
        #if Fleet
        let shared = try TierStore.open(settings.store.postgres, key: key, next: next, keySource: keySource, logger: logger)
        logger.notice(
            "tier node: the shared store is PostgreSQL", metadata: ["store.shared": "\(shared.location)", "store.local_users": "\(settings.store.localUsers)"])
        let store = settings.store
        // A key from a systemd credential is replaced offline: no next key, no rekey here.
        let keys = KeyFile.isCredential(keySource)
            ? nil : TierKeys(keyFile: keySource, current: key, next: next, local: local, shared: shared, logger: logger)
        return (SplitStore(local: local, shared: shared, isLocal: { store.isLocal($0) }), keys)
        #else
        throw DaemonError(
            "store.backend = \"postgres\", but this otpgated was built without the PostgreSQL store: build it with `swift build --traits Fleet` (or `make install SWIFT_FLAGS=\"--traits Fleet\"`)")
        #endif
    }

    /// Up to the hard limit: every connection is a descriptor, and the default soft
    /// limit of 1024 is below `max_connections`.
    func raiseFileLimit() {
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
    }
}
