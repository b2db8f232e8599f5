import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import OTPGateServer
import OTPGateStore
import ServiceLifecycle
import UnixSignals

/// otpgated: parse flags, load config, bootstrap logging, run the daemon.
@main
struct OTPGated: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otpgated",
        abstract: "The otpgate daemon: the only process that holds one-time-code secrets.",
        discussion: """
            Exit status: 0 after a clean shutdown (SIGTERM or SIGINT), 1 when it cannot
            start (bad config, missing or wrong key, unsafe paths, socket in use).
            """,
        version: RequestHandler.version)

    @Option(name: .long, help: "Config file (default /etc/otpgate/otpgated.toml if it exists).")
    var config: String?

    @Option(name: .customLong("state-dir"), help: "Put the store, the key and both sockets under this directory.")
    var stateDirectory: String?

    @Flag(name: .customLong("create-key"), help: "Create the master key file (the configured key_file) if missing, then exit. Used by 'make install'.")
    var createKey = false

    mutating func run() async throws {
        LoggingSystem.bootstrap { JournalLogHandler(label: $0) }
        let logger = Logger(label: "otpgated")
        do {
            try await start(logger: logger)
        } catch {
            // One clear line on stderr (and so in the journal), then a non-zero exit.
            logger.critical("otpgated cannot start: \(error)")
            throw ExitCode(1)
        }
    }

    func start(logger: Logger) async throws {
        var settings = ServerConfig()
        let configPath = config ?? "/etc/otpgate/otpgated.toml"
        if config != nil || FileManager.default.fileExists(atPath: configPath) {
            guard let text = try? String(contentsOfFile: configPath, encoding: .utf8) else {
                throw DaemonError("cannot read config file \(configPath)")
            }
            settings = try ServerConfig(parsing: text, name: configPath)
        }
        if let dir = stateDirectory {
            let absolute = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
            settings.useStateDirectory(absolute)
            try DaemonSetup.prepareStateDirectory(absolute)
        }
        umask(0o077)
        if !ProcessHardening.disableCoreDumps() {
            logger.warning("could not disable core dumps; a crash could write secrets to disk")
        }
        if createKey {
            var st = stat()
            if lstat(settings.keyFile, &st) == 0 {
                print("otpgated: master key \(settings.keyFile) exists; left as it is")
            } else {
                let key = try MasterKey.generate()
                try KeyFile.write(key, to: settings.keyFile)
                print("otpgated: created master key \(settings.keyFile) (key id \(key.id)); back it up")
            }
            return
        }
        raiseFileLimit()

        let environment = ProcessInfo.processInfo.environment
        let (key, keySource) = try DaemonSetup.loadOrCreateKey(
            config: settings, credentialsDirectory: environment["CREDENTIALS_DIRECTORY"], logger: logger)
        let store = try OTPStore(
            path: settings.databasePath, key: key, keySource: keySource, logger: logger,
            limiterPolicy: LimiterPolicy(settings.limiter), now: RequestHandler.systemTime())

        let clock = ClockMonitor(logger: logger)
        clock.check()
        let handler = RequestHandler(store: store, config: settings, clock: clock, logger: logger, keySource: keySource)
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
        let services = ServiceGroup(
            configuration: .init(
                services: [.init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await services.run()
        try await pool.shutdownGracefully()
        try await group.shutdownGracefully()
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
