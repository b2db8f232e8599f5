internal import Glibc
public import Logging
import NIOCore
public import NIOPosix
import OTPGateProtocol
import OTPGateStore
public import ServiceLifecycle
import Synchronization

/// The daemon as a service: listens on both sockets, answers requests, checks the
/// clock and purges expired enrolments. On graceful shutdown it stops accepting,
/// lets requests in flight finish, closes idle connections and removes its socket
/// files.
public final class Daemon: Service, Sendable {
    let config: ServerConfig
    let handler: RequestHandler
    let sockets: [ListenerSocket]
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    let pool: NIOThreadPool
    let registry: ConnectionRegistry
    let daemonUID: UInt32
    let onReady: @Sendable () -> Void
    let onStopping: @Sendable () -> Void
    private let serverChannels = Mutex<[any Channel]>([])

    public init(
        config: ServerConfig, handler: RequestHandler, sockets: [ListenerSocket], logger: Logger,
        group: MultiThreadedEventLoopGroup, pool: NIOThreadPool, onReady: @escaping @Sendable () -> Void = {},
        onStopping: @escaping @Sendable () -> Void = {}
    ) {
        self.config = config
        self.handler = handler
        self.sockets = sockets
        self.logger = logger
        self.group = group
        self.pool = pool
        self.registry = ConnectionRegistry(maxTotal: config.maxConnections, maxPerUID: config.maxConnectionsPerUID)
        self.daemonUID = geteuid()
        self.onReady = onReady
        self.onStopping = onStopping
    }

    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    public func run() async throws {
        var listeners: [(ListenerSocket, NIOAsyncChannel<any Channel, Never>)] = []
        for socket in sockets {
            listeners.append((socket, try await bind(socket)))
        }
        serverChannels.withLock { $0 = listeners.map { $0.1.channel } }
        logger.notice(
            "otpgated ready",
            metadata: ["version": "\(RequestHandler.version)", "socket.public": "\(config.socketPath)",
                       "socket.admin": "\(config.adminSocketPath)", "store.path": "\(config.databasePath)"])
        onReady()

        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { housekeeping in
                housekeeping.addTask { [handler, config] in
                    await handler.clock.run(interval: config.clockCheckInterval)
                }
                housekeeping.addTask { [handler, config, logger] in
                    await Self.purgeLoop(handler, interval: min(config.enrollmentTTL, 300), logger: logger)
                }
                // Runs until graceful shutdown closes the listeners and the last
                // connection has finished; then the housekeeping stops too.
                await withDiscardingTaskGroup { accepting in
                    for (socket, listener) in listeners {
                        accepting.addTask { await self.accept(on: listener, kind: socket.kind) }
                    }
                }
                housekeeping.cancelAll()
            }
        } onGracefulShutdown: {
            self.stopAccepting()
        }
        for socket in sockets { socket.remove() }
        // How well group commit batched: writes per transaction is fsyncs saved.
        let writes = handler.store.writeStatistics
        logger.notice(
            "otpgated stopped",
            metadata: ["store.transactions": "\(writes.transactions)", "store.writes": "\(writes.writes)",
                       "store.largest_batch": "\(writes.largestBatch)"])
    }

    /// Stops accepting, closes idle connections, lets busy ones finish.
    func stopAccepting() {
        onStopping()
        logger.notice("shutting down: no new connections", metadata: ["connections.open": "\(registry.count)"])
        for channel in serverChannels.withLock({ $0 }) { channel.close(promise: nil) }
        registry.drain()
    }

    private func bind(_ socket: ListenerSocket) async throws -> NIOAsyncChannel<any Channel, Never> {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            // A client may send its requests and shut down its side (socat does):
            // it still gets every reply.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
        let idle = TimeAmount.seconds(config.idleTimeout)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<any Channel> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(RequestDeadlineHandler(timeout: idle))
                try channel.pipeline.syncOperations.addHandler(HoldInboundHandler(limit: 4 * ProtocolLimits.maxRequestLineBytes))
                return channel
            }
        }
        if let fd = socket.activatedFD {
            return try await bootstrap.bind(fd, childChannelInitializer: initializer)
        }
        try socket.prepare()
        // Bound under a umask of 0177 so that no one can connect before the chmod.
        let old = umask(0o177)
        defer { umask(old) }
        let listener = try await bootstrap.bind(unixDomainSocketPath: socket.path, childChannelInitializer: initializer)
        socket.setMode()
        return listener
    }

    private func accept(on listener: NIOAsyncChannel<any Channel, Never>, kind: SocketKind) async {
        do {
            try await listener.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection, kind: kind) }
                    }
                }
            }
        } catch {
            logger.error("listener failed", metadata: ["socket.kind": "\(kind.rawValue)", "error": "\(error)"])
        }
    }

    /// Layout-compatible with `struct ucred` from <sys/socket.h>.
    struct PeerCredentials: Sendable {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    /// Every path after wrapping ends in `executeThenClose`: an `NIOAsyncChannel`
    /// dropped without it is a fatal error in swift-nio.
    private func serve(_ channel: any Channel, kind: SocketKind) async {
        // Wrapped here rather than in the child initializer (see HoldInboundHandler),
        // in the same event-loop turn that reads the peer's credentials: one hop to
        // the event loop and back per connection, not two.
        guard let provider = channel as? any SocketOptionProvider,
            let (connection, cred) = try? await channel.eventLoop.flatSubmit({
                provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
                    .flatMapThrowing { (cred: PeerCredentials) in
                        let wrapped = try Connection(wrappingChannelSynchronously: channel)
                        let operations = channel.pipeline.syncOperations
                        try operations.handler(type: HoldInboundHandler.self)
                            .release(context: operations.context(handlerType: HoldInboundHandler.self))
                        return (wrapped, cred)
                    }
            }).get()
        else {
            logger.error("could not read peer credentials; closing the connection")
            try? await channel.close()
            return
        }
        let exempt = cred.uid == 0 || cred.uid == daemonUID
        if let refusal = registry.admit(channel, uid: cred.uid, exemptFromUIDCap: exempt) {
            logger.warning("connection refused", metadata: ["peer.uid": "\(cred.uid)", "reason": "\(refusal)"])
            let reply = Reply.failure(id: nil, code: .unavailable, message: refusal)
            try? await connection.executeThenClose { _, outbound in try await outbound.write(ByteBuffer(string: reply.line)) }
            return
        }
        defer { registry.remove(channel) }

        let config = self.config
        let daemonUID = self.daemonUID
        let peer: Peer
        if exempt {
            // Root (every sshd and sudo login) and the daemon's own uid need no group
            // lookups, only their name, which the local passwd file has: resolved here,
            // that spares each login two thread hand-offs (docs/PERFORMANCE.md).
            peer = Peer.resolve(uid: cred.uid, gid: cred.gid, pid: cred.pid, socket: kind, config: config, daemonUID: daemonUID)
        } else {
            // Group lookups may go to LDAP or sssd: off the event loop and the tasks.
            guard let resolved = try? await pool.runIfActive({
                Peer.resolve(uid: cred.uid, gid: cred.gid, pid: cred.pid, socket: kind, config: config, daemonUID: daemonUID)
            }) else {
                try? await connection.executeThenClose { _, _ in }
                return
            }
            peer = resolved
        }

        do {
            try await connection.executeThenClose { inbound, outbound in
                var framer = LineFramer(maxLineBytes: ProtocolLimits.maxRequestLineBytes)
                for try await buffer in inbound {
                    framer.append(buffer.readableBytesView)
                    while true {
                        let reply: Reply
                        var close = false
                        switch framer.next() {
                        case .needMoreData:
                            break
                        case .tooLong:
                            reply = RequestError.lineTooLong.reply
                            try await outbound.write(ByteBuffer(string: reply.line))
                            return
                        case .line(let bytes):
                            self.registry.setBusy(channel, true)
                            do {
                                let request = try Request.parse(line: bytes)
                                // The worker thread sends the reply itself, straight to
                                // the event loop, rather than handing it back to this
                                // task first: one thread hand-off less before the answer
                                // leaves. Replies stay in order: this loop waits for the
                                // write to be queued before it reads the next request.
                                try await self.pool.runIfActive {
                                    let reply = self.handler.handle(request, peer: peer)
                                    channel.writeAndFlush(ByteBuffer(string: reply.line), promise: nil)
                                }
                            } catch let error as RequestError {
                                reply = error.reply
                                close = error.closesConnection
                                try await outbound.write(ByteBuffer(string: reply.line))
                            }
                            let draining = self.registry.setBusy(channel, false)
                            if close || draining { return }
                            continue
                        }
                        break
                    }
                }
            }
        } catch {
            // A client that goes away mid-request, or an idle timeout: nothing to answer.
            logger.debug("connection ended", metadata: ["peer.uid": "\(cred.uid)", "error": "\(error)"])
        }
    }

    static func purgeLoop(_ handler: RequestHandler, interval: Int64, logger: Logger) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(interval))
            do {
                let purged = try handler.store.purgeExpiredEnrollments(now: handler.now())
                if purged > 0 { logger.info("expired enrolments purged", metadata: ["enrollments.purged": "\(purged)"]) }
            } catch {
                logger.error("purging expired enrolments failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

