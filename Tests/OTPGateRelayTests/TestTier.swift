import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A real TLS 1.3 server on 127.0.0.1 standing in for a tier node: it requires a
/// client certificate from the CA, records every line it receives and the number of
/// connections, and answers each line as `behaviour` says.
final class TestTier: Sendable {
    enum Behaviour: Sendable {
        /// Answers each line with this reply line.
        case answer(String)
        /// Reads the line and never answers.
        case silent
        /// Reads the line and closes the connection.
        case closeAfterReading
        /// Reads the line and then hangs (its event loop blocked) this long: a node
        /// that neither answers nor acknowledges a close.
        case hang(milliseconds: UInt32)
    }

    let channel: any Channel
    let group: MultiThreadedEventLoopGroup
    private let state = Mutex<(lines: [String], connections: Int)>(([], 0))
    private let open = Mutex<[any Channel]>([])
    let behaviour: Mutex<Behaviour>

    var port: Int { channel.localAddress!.port! }
    var lines: [String] { state.withLock { $0.lines } }
    var connections: Int { state.withLock { $0.connections } }

    init(_ behaviour: Behaviour, certificate: String = "tier", ca: TestCA = .shared) throws {
        self.behaviour = Mutex(behaviour)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(ca.certificate(certificate)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: ca.key(certificate), format: .pem)))
        configuration.minimumTLSVersion = .tlsv13
        configuration.trustRoots = .file(ca.ca)
        configuration.certificateVerification = .noHostnameVerification
        let context = try NIOSSLContext(configuration: configuration)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = Box()
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder()))
                    try channel.pipeline.syncOperations.addHandler(LineHandler(tier: box.tier!))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        box.tier = self
    }

    /// Stops listening and closes every connection: the port then refuses.
    func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    fileprivate func received(_ line: String) -> Behaviour {
        state.withLock { $0.lines.append(line) }
        return behaviour.withLock { $0 }
    }

    fileprivate func connected(_ channel: any Channel) {
        state.withLock { $0.connections += 1 }
        open.withLock { $0.append(channel) }
    }

    /// Closes every connection accepted so far, and waits until they are closed.
    func dropConnections() {
        for channel in open.withLock({ list in defer { list = [] }; return list }) { try? channel.close().wait() }
    }

    private final class Box: @unchecked Sendable { var tier: TestTier? }
}

private struct LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = String
    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return .needMoreData }
        let line = buffer.readString(length: newline - buffer.readerIndex)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}

private final class LineHandler: ChannelInboundHandler {
    typealias InboundIn = String
    typealias OutboundOut = ByteBuffer
    let tier: TestTier
    init(tier: TestTier) { self.tier = tier }

    func channelActive(context: ChannelHandlerContext) {
        tier.connected(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch tier.received(unwrapInboundIn(data)) {
        case .answer(let reply):
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: reply + "\n")), promise: nil)
        case .silent: break
        case .closeAfterReading: context.close(promise: nil)
        case .hang(let ms): usleep(ms * 1000)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
