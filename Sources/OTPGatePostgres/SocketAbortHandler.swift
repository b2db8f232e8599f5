internal import NIOCore
internal import NIOPosix

/// The first handler of a pooled connection's pipeline, next to the socket: on
/// `SocketAbortHandler.Abort` it closes the socket at once, below TLS, with SO_LINGER 0.
///
/// Why: at a deadline the pool closes the connection and never cancels (FLEET.md, trap
/// 1), but an ordinary close leaves the query it gave up on in the kernel's send queue:
/// TLS first waits up to 5 s for the server's close_notify, and the kernel keeps
/// retransmitting unsent data after close. On a cut link the query then reached the
/// server when the link came back and ran there (test_tier.py's partition check saw a
/// reservation counted 1.1 s after healing, for an attempt the node had answered
/// unavailable and never evaluated). Closed from here, the close skips the TLS handler,
/// and with SO_LINGER 0 the kernel discards what was not yet delivered and sends RST.
final class SocketAbortHandler: ChannelOutboundHandler, Sendable {
    typealias OutboundIn = NIOAny

    struct Abort: Sendable {}

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is Abort else {
            return context.triggerUserOutboundEvent(event, promise: promise)
        }
        let close = { context.close(mode: .all, promise: promise) }
        if let options = context.channel as? (any SocketOptionProvider) {
            options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in close() }
        } else {
            close()
        }
    }

    /// Connects to the endpoint with this handler first in the pipeline.
    static func connect(to endpoint: PostgresSettings.Endpoint, timeout: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<any Channel> {
        let bootstrap = ClientBootstrap(group: loop).connectTimeout(timeout).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(SocketAbortHandler()) }
        }
        switch endpoint.kind {
        case .tcp(let host, let port): return bootstrap.connect(host: host, port: port)
        case .socket: return bootstrap.connect(unixDomainSocketPath: endpoint.socketPath ?? "")
        }
    }
}
