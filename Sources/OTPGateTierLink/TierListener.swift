public import Logging
public import NIOCore
public import NIOPosix
import NIOSSL
import Synchronization
import OTPGateProtocol
public import OTPGateConfig
public import OTPGateServer
public import OTPGateTLS

/// The verifier tier's TLS listener for relays (docs/RELAY.md): one server socket per
/// configured address, TLS 1.3 with a client certificate from the relay CA required,
/// then the same request path as the local public socket (`RequestHandler`), with the
/// caller the relay vouches for and the relay's certificate identity as the host.
public final class TierListener: Sendable {
    public let registry: RelayRegistry
    private let settings: TierListenerSettings
    private let sslContext: NIOSSLContext
    private let shared: RelayConnectionHandler.Shared
    private let group: any EventLoopGroup
    private let channels = Mutex<[any Channel]>([])

    /// Loads the TLS files and the deny list (throwing a message that names the file
    /// and the fix); binds nothing yet.
    public init(
        settings: TierListenerSettings, material: TLSMaterial, deny: DenyList, handler: RequestHandler, pool: NIOThreadPool,
        group: any EventLoopGroup, logger: Logger
    ) throws {
        self.settings = settings
        self.group = group
        sslContext = try NIOSSLContext(configuration: TLSConfigurations.server(material))
        registry = RelayRegistry(
            deny: deny, maxConnectionsPerRelay: settings.maxConnectionsPerRelay, requestsPerSecond: settings.maxRequestsPerSecond)
        shared = RelayConnectionHandler.Shared(
            handler: handler, registry: registry, pool: pool,
            handshakeTimeout: .milliseconds(Int64(settings.handshakeTimeoutMilliseconds)), logger: logger)
    }

    /// Binds every address; returns the bound addresses (a port 0 becomes the one the
    /// kernel chose).
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        var bound: [SocketAddress] = []
        let (sslContext, shared, settings) = (self.sslContext, self.shared, self.settings)
        for address in settings.listen {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let deadline = LineDeadlineHandler(deadline: .milliseconds(Int64(settings.lineTimeoutMilliseconds)))
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(NIOSSLServerHandler(context: sslContext))
                        try sync.addHandler(IdleStateHandler(allTimeout: .seconds(settings.idleTimeout)))
                        try sync.addHandler(deadline)
                        try sync.addHandler(ByteToMessageHandler(RequestLineDecoder(maxLineBytes: RelayEnvelope.maxLineBytes)))
                        try sync.addHandler(RelayConnectionHandler(shared, deadline: deadline))
                    }
                }
                .bind(host: address.host, port: address.port).get()
            channels.withLock { $0.append(channel) }
            if let local = channel.localAddress { bound.append(local) }
            shared.logger.info("relay link listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "\(address)")"])
        }
        return bound
    }

    /// Replaces the deny list (at reload) and closes the open connections of relays it
    /// now denies; returns how many.
    @discardableResult
    public func reload(deny: DenyList) -> Int {
        let closed = registry.replaceDenyList(deny)
        shared.logger.notice("relay link: deny list reloaded", metadata: ["closed": "\(closed)"])
        return closed
    }

    /// Stops accepting; open connections finish with their channels' event loops.
    public func stop() async {
        let open = channels.withLock { list in defer { list = [] }; return list }
        for channel in open { try? await channel.close() }
    }
}
