import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
@testable import OTPGateServer
import Testing

/// What of the connection handler runs on an embedded channel: admission needs the
/// peer's credentials (SO_PEERCRED), which only a real socket has, so a channel
/// without them is closed unanswered and its lines never reach a worker. The rest
/// (serving, back-pressure, draining) is in DaemonServiceGroupTests, on real sockets.
struct ConnectionHandlerTests {
    @Test func aChannelWithoutPeerCredentialsIsClosedAndNeverServed() throws {
        let f = try HandlerFixture()
        let pool = NIOThreadPool(numberOfThreads: 1)  // never started: nothing may be submitted
        let context = ConnectionHandler.Context(
            kind: .public, handler: f.handler,
            registry: ConnectionRegistry(maxTotal: 8, maxPerUID: 8, reserved: 0), privilegedPool: pool, guestPool: pool,
            budget: UIDBudget(rate: 10, burst: 10), refusalLog: RefusalLog(logger: f.log.logger), config: f.config,
            daemonUID: 0, logger: f.log.logger)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RequestLineDecoder()))
        try channel.pipeline.syncOperations.addHandler(ConnectionHandler(context))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        #expect(!channel.isActive, "served without knowing who is calling")
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "a reply without a peer")
        #expect(context.registry.count == 0)
    }
}
