internal import Glibc
public import Logging
import NIOCore
public import NIOPosix
import OTPGateProtocol
import OTPGateStoreContract
public import ServiceLifecycle
import Synchronization

/// The daemon as a service: listens on both sockets and answers requests (its
/// housekeeping runs as services beside it: `housekeeping(environment:)`). On graceful
/// shutdown it stops accepting, lets requests in flight finish, closes idle
/// connections, writes the refusal counts and removes its socket files.
public final class Daemon: Service, Sendable {
    let config: ServerConfig
    /// What answers requests: `handler`, or on a relay the relay.
    let responder: any RequestResponder
    /// The handler over this host's store, whose housekeeping runs beside the daemon;
    /// nil on a relay that keeps no local users (it has no store).
    let handler: RequestHandler?
    let sockets: [ListenerSocket]
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    let pool: NIOThreadPool
    /// Workers for unprivileged callers, apart from `pool`, so that no local user can
    /// queue work ahead of a login (see ConnectionHandler).
    let guestPool: NIOThreadPool
    let registry: ConnectionRegistry
    let budget: UIDBudget
    let refusalLog: RefusalLog
    let daemonUID: UInt32
    let onReady: @Sendable () -> Void
    let onStopping: @Sendable () -> Void
    private let serverChannels = Mutex<[any Channel]>([])
    /// The public socket's blocking acceptors (`server.public_acceptors` > 0).
    private let acceptors = Mutex<[PublicAcceptor]>([])
    /// Set once the listeners are bound and READY=1 is sent.
    private let serving = Atomic<Bool>(false)

    public convenience init(
        config: ServerConfig, handler: RequestHandler, sockets: [ListenerSocket], logger: Logger,
        group: MultiThreadedEventLoopGroup, pool: NIOThreadPool, onReady: @escaping @Sendable () -> Void = {},
        onStopping: @escaping @Sendable () -> Void = {}
    ) {
        self.init(
            config: config, responder: handler, localHandler: handler, sockets: sockets, logger: logger, group: group,
            pool: pool, onReady: onReady, onStopping: onStopping)
    }

    /// A daemon whose requests `responder` answers (a relay), with `localHandler` the
    /// handler over this host's own store, if it has one, for housekeeping.
    public init(
        config: ServerConfig, responder: any RequestResponder, localHandler: RequestHandler?, sockets: [ListenerSocket],
        logger: Logger, group: MultiThreadedEventLoopGroup, pool: NIOThreadPool,
        onReady: @escaping @Sendable () -> Void = {}, onStopping: @escaping @Sendable () -> Void = {}
    ) {
        self.config = config
        self.responder = responder
        self.handler = localHandler
        self.sockets = sockets
        self.logger = logger
        self.group = group
        self.pool = pool
        self.guestPool = NIOThreadPool(numberOfThreads: Self.guestThreads(config))
        self.registry = ConnectionRegistry(
            maxTotal: config.maxConnections, maxPerUID: config.maxConnectionsPerUID, reserved: config.reservedConnections)
        self.budget = UIDBudget(rate: config.uidWriteRate, burst: config.uidWriteBurst)
        self.refusalLog = RefusalLog(logger: logger)
        self.daemonUID = geteuid()
        self.onReady = onReady
        self.onStopping = onStopping
    }

    /// An eighth of the workers, at least two: enough for users enrolling and screen
    /// lockers; a flood from them keeps that many threads busy and no more.
    static func guestThreads(_ config: ServerConfig) -> Int { max(2, config.workerThreads / 8) }

    public func run() async throws {
        guestPool.start()
        defer { guestPool.shutdownGracefully { _ in } }
        var listeners: [any Channel] = []
        var started: [PublicAcceptor] = []
        for socket in sockets {
            if socket.kind == .public && config.publicAcceptors > 0 {
                started.append(try acceptor(socket))
            } else {
                listeners.append(try await bind(socket))
            }
        }
        serverChannels.withLock { $0 = listeners }
        acceptors.withLock { $0 = started }
        for acceptor in started { acceptor.start() }
        logger.notice(
            "otpgated ready",
            metadata: ["version": "\(RequestHandler.version)", "socket.public": "\(config.socketPath)",
                       "socket.admin": "\(config.adminSocketPath)", "store.path": "\(config.databasePath)"])
        serving.store(true, ordering: .releasing)
        onReady()

        await withGracefulShutdownHandler {
            // Until graceful shutdown closes the listeners and the last connection has
            // finished.
            for listener in listeners { try? await listener.closeFuture.get() }
            for acceptor in started { try? await acceptor.finished.get() }
            try? await registry.drain(on: group.next()).get()
        } onGracefulShutdown: {
            self.stopAccepting()
        }
        handler?.flushRefusals(all: true)
        for socket in sockets { socket.remove() }
        // How well group commit batched: writes per transaction is fsyncs saved.
        let writes = handler?.store.writeStatistics ?? WriteStatistics(transactions: 0, writes: 0, largestBatch: 0)
        logger.notice(
            "otpgated stopped",
            metadata: ["store.transactions": "\(writes.transactions)", "store.writes": "\(writes.writes)",
                       "store.largest_batch": "\(writes.largestBatch)", "connections.evicted": "\(registry.evictions)"])
    }

    /// Stops accepting, closes idle connections, lets busy ones finish.
    func stopAccepting() {
        onStopping()
        logger.notice("shutting down: no new connections", metadata: ["connections.open": "\(registry.count)"])
        for channel in serverChannels.withLock({ $0 }) { channel.close(promise: nil) }
        // Before the files go: the acceptors are woken by connecting to them.
        for acceptor in acceptors.withLock({ $0 }) { acceptor.stop() }
        // The files of the sockets it bound (NIO removes none it did not bind itself).
        for socket in sockets { socket.remove() }
        registry.drain(on: group.next())
    }

    static let backlog: Int32 = 512

    private func context(_ socket: ListenerSocket) -> ConnectionHandler.Context {
        ConnectionHandler.Context(
            kind: socket.kind, handler: responder, registry: registry, privilegedPool: pool, guestPool: guestPool,
            budget: budget, refusalLog: refusalLog, config: config, daemonUID: daemonUID, logger: logger)
    }

    /// A connection's pipeline, on the listener's children and on connections the
    /// public socket's acceptors hand over alike.
    private static func configure(_ channel: any Channel, idle: TimeAmount, shared: ConnectionHandler.Context) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            let operations = channel.pipeline.syncOperations
            try operations.addHandler(RequestDeadlineHandler(timeout: idle))
            try operations.addHandler(ByteToMessageHandler(RequestLineDecoder()))
            try operations.addHandler(ConnectionHandler(shared))
        }
    }

    private func bind(_ socket: ListenerSocket) async throws -> any Channel {
        let idle = TimeAmount.seconds(config.idleTimeout)
        let shared = context(socket)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Self.backlog)
            // A client may send its requests and shut down its side (socat does):
            // it still gets every reply.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            // Back-pressure (ConnectionHandler): read only when ready for more, at most
            // 4 KiB at a time, and stop serving while 32 KiB of replies wait unread.
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 8 * 1024, high: 32 * 1024))
            .childChannelInitializer { Self.configure($0, idle: idle, shared: shared) }
        if let fd = socket.activatedFD {
            return try await bootstrap.withBoundSocket(fd).get()
        }
        let fd = try listeningDescriptor(socket)
        let listener = try await bootstrap.withBoundSocket(fd).get()
        // NIO listens again with its default backlog when it takes a bound socket.
        _ = listen(fd, Self.backlog)
        return listener
    }

    /// The socket systemd passed, or one bound here with its mode from the start
    /// (ListenerSocket.bindListening), not under a process-wide umask.
    private func listeningDescriptor(_ socket: ListenerSocket) throws -> Int32 {
        if let fd = socket.activatedFD { return fd }
        try socket.prepare()
        return try socket.bindListening(backlog: Self.backlog)
    }

    /// The public socket served by blocking acceptors (PublicAcceptor), which hand
    /// every connection they do not finish themselves to the event loop, with the
    /// same pipeline and options as a listener's children.
    private func acceptor(_ socket: ListenerSocket) throws -> PublicAcceptor {
        let idle = TimeAmount.seconds(config.idleTimeout)
        let shared = context(socket)
        let (group, logger) = (self.group, self.logger)
        let fd = try listeningDescriptor(socket)
        return PublicAcceptor(fd: fd, threads: config.publicAcceptors, shared: shared, eventLoop: group.next()) { conn in
            ClientBootstrap(group: group)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelOption(.autoRead, value: false)
                .channelOption(.maxMessagesPerRead, value: 1)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
                .channelOption(.writeBufferWaterMark, value: .init(low: 8 * 1024, high: 32 * 1024))
                .channelInitializer { Self.configure($0, idle: idle, shared: shared) }
                .withConnectedSocket(conn)
                .whenFailure { error in logger.error("could not hand a connection to the event loop", metadata: ["error": "\(error)"]) }
        }
    }

    /// The housekeeping, as services to run beside the daemon (after it in the
    /// group, so they stop before it): the clock check, the enrolment purge, the
    /// refusal counts, audit retention and, when systemd asks for it
    /// (`WATCHDOG_USEC`), the watchdog.
    public func housekeeping(environment: [String: String]) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let (config, logger) = (self.config, self.logger)
        var services: [PeriodicService] = []
        if let handler = self.handler {
            services += [
                PeriodicService("clock check", every: .seconds(config.clockCheckInterval)) { _ = handler.clock.check() },
                PeriodicService("enrolment purge", every: .seconds(min(config.enrollmentTTL, 300))) {
                    Self.purgeEnrollments(handler, logger: logger)
                },
                PeriodicService("refusal counts", every: .seconds(max(config.refusalAuditWindow, 1))) { handler.flushRefusals() },
                PeriodicService("audit retention", every: .seconds(config.auditPruneInterval), runsAtStart: true) {
                    Self.pruneAudit(handler, config: config, logger: logger)
                },
            ]
            if let keys = handler.tierKeys {
                // A tier node follows the tier's rekey within a minute without an
                // admin on it (SIGHUP does it at once: HangupHandler).
                services.append(PeriodicService("tier key check", every: .seconds(60)) { keys.settle(now: handler.now()) })
            }
        }
        if let interval = SystemdNotify.watchdogInterval(environment: environment) {
            let loop = group.next()
            services.append(PeriodicService("watchdog", every: interval) { [self] in
                // After READY=1, and only while the event loop still turns: a wedged
                // daemon is restarted.
                guard serving.load(ordering: .acquiring), (try? await loop.submit({}).get()) != nil else { return }
                SystemdNotify.send("WATCHDOG=1", environment: environment)
            })
        }
        return services.map { .init(service: $0, serviceName: $0.description) }
    }

    static func purgeEnrollments(_ handler: RequestHandler, logger: Logger) {
        do {
            let purged = try handler.store.purgeExpiredEnrollments(now: handler.now())
            if purged > 0 { logger.info("expired enrolments purged", metadata: ["enrollments.purged": "\(purged)"]) }
        } catch {
            logger.error("purging expired enrolments failed", metadata: ["error": "\(error)"])
        }
    }

    static func pruneAudit(_ handler: RequestHandler, config: ServerConfig, logger: Logger) {
        do {
            let deleted = try handler.store.pruneAudit(
                maxAge: config.auditMaxAgeDays > 0 ? Int64(config.auditMaxAgeDays) * 86_400 : nil,
                maxEvents: config.auditMaxEvents > 0 ? config.auditMaxEvents : nil, now: handler.now())
            if deleted > 0 { logger.info("audit retention applied", metadata: ["audit.deleted": "\(deleted)"]) }
        } catch {
            logger.error("audit retention failed", metadata: ["error": "\(error)"])
        }
    }
}
