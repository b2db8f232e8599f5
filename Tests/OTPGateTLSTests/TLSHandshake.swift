import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import OTPGateTLS

/// One TLS connection over loopback between a server and a client built from the
/// configurations under test: what each end saw.
struct TLSHandshake {
    struct Outcome {
        /// The client certificate's identity as the server read it, or the server's error.
        let server: Result<PeerIdentity, any Error>
        /// Whether the client finished its side, or its error.
        let client: Result<Void, any Error>
    }

    static func run(server: TLSConfiguration, client: TLSConfiguration, host: String = "127.0.0.1") async throws -> Outcome {
        // A group of its own: on NIO's shared singleton (two threads here) the
        // handshake queued behind every other suite's connections (the tier listener's
        // floods, the client's 64 calls) and, in loaded full runs, missed the 10 s below.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let serverContext = try NIOSSLContext(configuration: server)
        let clientContext = try NIOSSLContext(configuration: client)
        let serverSaw = group.next().makePromise(of: PeerIdentity.self)
        let clientSaw = group.next().makePromise(of: Void.self)
        for promise in [serverSaw.futureResult.map { _ in () }, clientSaw.futureResult] { _ = promise }
        group.next().scheduleTask(in: .seconds(10)) {
            serverSaw.fail(ChannelError.connectTimeout(.seconds(10)))
            clientSaw.fail(ChannelError.connectTimeout(.seconds(10)))
        }
        let listener = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: serverContext))
                    try channel.pipeline.syncOperations.addHandler(Recorder(server: serverSaw))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = listener.localAddress!.port!
        let connection = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLClientHandler(context: clientContext, serverHostname: TLSConfigurations.serverHostname(for: host)))
                    try channel.pipeline.syncOperations.addHandler(Recorder(client: clientSaw))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let serverResult: Result<PeerIdentity, any Error>
        do { serverResult = .success(try await serverSaw.futureResult.get()) } catch { serverResult = .failure(error) }
        let clientResult: Result<Void, any Error>
        do { clientResult = .success(try await clientSaw.futureResult.get()) } catch { clientResult = .failure(error) }
        try? await connection.close()
        try? await listener.close()
        return Outcome(server: serverResult, client: clientResult)
    }

    final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private let server: EventLoopPromise<PeerIdentity>?
        private let client: EventLoopPromise<Void>?

        init(server: EventLoopPromise<PeerIdentity>? = nil, client: EventLoopPromise<Void>? = nil) {
            self.server = server
            self.client = client
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event {
                client?.succeed(())
                if let server {
                    do {
                        guard let certificate = try context.pipeline.syncOperations.nioSSL_peerCertificate() else {
                            server.fail(TLSError("no peer certificate"))
                            return
                        }
                        server.succeed(try PeerIdentity(certificate: certificate))
                    } catch {
                        server.fail(error)
                    }
                }
            }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            server?.fail(error)
            client?.fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            server?.fail(ChannelError.eof)
            client?.fail(ChannelError.eof)
        }
    }
}
