#if Fleet
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import OTPGateRelay
import OTPGateServer
import OTPGateStore
import ServiceLifecycle
import UnixSignals

/// `mode = "relay"`: the same two sockets, answered by asking the verifier tier
/// (docs/RELAY.md). No fleet key and no store of fleet users: only this host's own
/// key and SQLite store for its local users (`[store] local_users`, root always).
enum RelayMode {
    static func run(
        settings: ServerConfig, flags: OTPGated, configPath: String?, configFile: ConfigFile?, logFile: LogFile?,
        environment: [String: String], logger: Logger
    ) async throws {
        let tls: NIOSSLContext
        do {
            tls = try RelayTLS.clientContext(settings.relay)
        } catch {
            throw DaemonError(
                "relay: cannot load the TLS files (relay.certificate_file \(settings.relay.certificateFile), relay.key_file \(settings.relay.keyFile), relay.ca_file \(settings.relay.caFile)): \(error)")
        }
        let clock = ClockMonitor(logger: logger)
        clock.check()
        var local: (handler: RequestHandler, store: OTPStore)?
        if !settings.relayLocalUsers.isEmpty {
            let (key, keySource, keyCreated) = try DaemonSetup.loadOrCreateKey(
                config: settings, credentialsDirectory: environment["CREDENTIALS_DIRECTORY"], logger: logger)
            let (store, created) = try DaemonSetup.openStore(
                config: settings, key: key, keySource: keySource, keyCreated: keyCreated, newStore: flags.newStore,
                logger: logger, now: RequestHandler.systemTime())
            try DaemonSetup.checkGeneration(
                store: store, config: settings, created: created, besideExistingKey: !keyCreated,
                acceptRollback: flags.acceptRollback, logger: logger, now: RequestHandler.systemTime())
            local = (RequestHandler(store: store, config: settings, clock: clock, logger: logger, keySource: keySource), store)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let relay = Relay(
            settings: settings.relay, tls: tls, group: group, local: local?.handler,
            localUsers: settings.relayLocalUsers, logger: logger, clockSynced: { clock.isSynchronized })
        logger.notice(
            "relay: requests go to the verifier tier",
            metadata: ["tier.endpoints": "\(settings.relay.endpoints.map(\.description))",
                       "relay.deadline_ms": "\(settings.relay.deadlineMilliseconds)",
                       "store.local_users": "\(settings.relayLocalUsers)"])
        var sockets = ListenerSocket.fromSystemd(environment: environment, config: settings)
        for kind in [SocketKind.public, .admin] where !sockets.contains(where: { $0.kind == kind }) {
            sockets.append(ListenerSocket(kind: kind, path: kind == .public ? settings.socketPath : settings.adminSocketPath))
        }
        let pool = NIOThreadPool(numberOfThreads: settings.workerThreads)
        pool.start()
        let daemon = Daemon(
            config: settings, responder: relay, localHandler: local?.handler, sockets: sockets, logger: logger,
            group: group, pool: pool,
            onReady: { SystemdNotify.send("READY=1", environment: environment) },
            onStopping: { SystemdNotify.send("STOPPING=1", environment: environment) })
        let services = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: HangupHandler(configPath: configPath, running: configFile, logFile: logFile, logger: logger)),
                ] + daemon.housekeeping(environment: environment),
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await services.run()
        relay.close()
        if let local { DaemonSetup.advanceGeneration(store: local.store, config: settings, logger: logger) }
        try await pool.shutdownGracefully()
        try await group.shutdownGracefully()
    }
}

#endif
