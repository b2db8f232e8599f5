import Foundation
import Logging
import NIOCore
import NIOPosix
import OTPGateServer
import ServiceLifecycle
#if Fleet
import OTPGateTLS
import OTPGateTierLink
import UnixSignals
#endif

/// The tier node's TLS listener for relays (`[tier_listener]`, docs/RELAY.md), as a
/// service of the daemon's group. Trait Fleet only; a build without it refuses a
/// config that asks for the listener.
enum TierLink {
    /// The services to run beside the daemon: none without `[tier_listener]`.
    static func services(
        settings: ServerConfig, configPath: String?, handler: RequestHandler, group: any EventLoopGroup, logger: Logger
    ) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        guard let tier = settings.tierListener else { return [] }
        #if Fleet
        let material = try TLSMaterial.load(certificate: tier.certificate, key: tier.key, ca: tier.ca)
        let deny = try DenyList.load(tier, readFile: { try String(contentsOfFile: $0, encoding: .utf8) })
        // A pool of its own: relays never queue ahead of this host's own logins.
        let pool = NIOThreadPool(numberOfThreads: settings.workerThreads)
        let listener = try TierListener(
            settings: tier, material: material, deny: deny, handler: handler, pool: pool, group: group, logger: logger)
        return [.init(service: Service(listener: listener, pool: pool, configPath: configPath, logger: logger))]
        #else
        _ = tier
        throw DaemonError(
            "[tier_listener] is set, but this otpgated was built without the relay link: build it with `swift build --traits Fleet`")
        #endif
    }

    #if Fleet
    struct Service: ServiceLifecycle.Service {
        let listener: TierListener
        let pool: NIOThreadPool
        let configPath: String?
        let logger: Logger

        func run() async throws {
            pool.start()
            try await listener.start()
            // SIGHUP (HangupHandler reopens the log and rereads the rest): the deny
            // list, from the config and its file, takes effect at once.
            let hangups = await UnixSignalsSequence(trapping: .sighup)
            for await _ in hangups.cancelOnGracefulShutdown() {
                reloadDenyList()
            }
            await listener.stop()
            try await pool.shutdownGracefully()
        }

        func reloadDenyList() {
            guard let configPath else { return }
            do {
                guard let text = try? String(contentsOfFile: configPath, encoding: .utf8) else {
                    throw ConfigError("cannot read config file \(configPath)")
                }
                let settings = try ServerConfig(parsing: text, name: configPath)
                guard let tier = settings.tierListener else {
                    logger.warning("SIGHUP: [tier_listener] is gone from \(configPath); the listener stays until a restart")
                    return
                }
                let deny = try DenyList.load(tier, readFile: { try String(contentsOfFile: $0, encoding: .utf8) })
                listener.reload(deny: deny)
            } catch {
                // The running list stays: a half-read list could let a revoked relay in.
                logger.error("SIGHUP: relay deny list not reloaded, the running one stays: \(error)")
            }
        }
    }
    #endif
}
