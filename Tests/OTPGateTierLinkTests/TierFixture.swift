import Foundation
import Glibc
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import OTPCore
import OTPGateProtocol
import OTPGateServer
import OTPGateStore
import OTPGateStoreContract
import OTPGateTLS
import OTPGateTestSupport
import OTPGateTierLink

/// A tier in this process: a SQLite store, the daemon's request handler, and the TLS
/// listener for relays on 127.0.0.1 with a port the kernel chose, with a throwaway PKI.
final class TierFixture {
    let pki: CertificateFixture
    let directory: String
    let store: OTPStore
    let handler: RequestHandler
    let pool: NIOThreadPool
    let listener: TierListener
    let port: Int

    static func start(_ configure: (inout TierListenerSettings, CertificateFixture) throws -> Void = { _, _ in }) async throws -> TierFixture {
        try await TierFixture(configure)
    }

    private init(_ configure: (inout TierListenerSettings, CertificateFixture) throws -> Void) async throws {
        pki = try await CertificateFixture.created()
        directory = pki.directory + "/state"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config = ServerConfig()
        config.useStateDirectory(directory)
        config.issuer = "tier-test"
        let logger = Logger(label: "tier-test") { _ in SwiftLogNoOpLogHandler() }
        store = try OTPStore(
            path: config.databasePath, key: try MasterKey.generate(), keySource: config.keyFile, logger: logger,
            recoveryHasher: RecoveryCodeHasher(n: 16, r: 1, p: 1), now: Int64(Date().timeIntervalSince1970))
        handler = RequestHandler(
            store: store, config: config, clock: ClockMonitor(logger: logger) { (0, 1000) }, logger: logger, keySource: config.keyFile)
        pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        var settings = TierListenerSettings()
        settings.listen = [.init(host: "127.0.0.1", port: 0)]
        settings.certificate = pki.server.certificate
        settings.key = pki.server.key
        settings.ca = pki.ca
        try configure(&settings, pki)
        let material = try TLSMaterial.load(certificate: settings.certificate, key: settings.key, ca: settings.ca)
        listener = try TierListener(
            settings: settings, material: material, deny: DenyList(settings.deny), handler: handler, pool: pool,
            group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let bound = try await listener.start()
        port = bound[0].port!
    }

    func stop() async {
        await listener.stop()
        try? await pool.shutdownGracefully()
        pki.remove()
    }

    /// A relay's TLS connection with `pair`'s certificate.
    func relay(_ pair: CertificatePair) async throws -> LinkClient {
        let chain = try TLSMaterial.certificates(at: pair.certificate, what: "cert")
        let key = try TLSMaterial.privateKey(at: pair.key)
        let roots = try TLSMaterial.certificates(at: pki.ca, what: "ca")
        let context = try NIOSSLContext(configuration: TLSConfigurations.client(TLSMaterial(chain: chain, privateKey: key, trustRoots: roots)))
        return try await LinkClient.connect(port: port, tls: context)
    }

    /// A client of the tier's port that speaks no TLS.
    func plainClient() async throws -> LinkClient {
        try await LinkClient.connect(port: port, tls: nil)
    }
}

/// A client end of the link: lines out, lines (or the end) in.
final class LinkClient {
    enum Event: Equatable {
        case line(String)
        case closed
        case error(String)
    }

    let channel: any Channel
    private var events: AsyncStream<Event>.Iterator

    private init(channel: any Channel, events: AsyncStream<Event>) {
        self.channel = channel
        self.events = events.makeAsyncIterator()
    }

    static func connect(port: Int, tls: NIOSSLContext?) async throws -> LinkClient {
        let (stream, continuation) = AsyncStream<Event>.makeStream()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(Collector(continuation))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        // A bound, so that no test can hang on a tier that never answers.
        channel.eventLoop.scheduleTask(in: .seconds(60)) { channel.close(promise: nil) }
        return LinkClient(channel: channel, events: stream)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text)).get()
    }

    /// The next line, or how the connection ended.
    func next() async -> Event {
        await events.next() ?? .closed
    }

    /// Sends one line, reads one reply line.
    func call(_ line: String) async throws -> Reply {
        try await send(line)
        switch await next() {
        case .line(let text): return try Reply.parse(line: Array(text.utf8))
        case let other: throw FixtureError("no reply to \(line.prefix(120)): \(other)")
        }
    }

    /// Whether the tier ends this connection (no line comes first).
    func ended() async -> Bool {
        switch await next() {
        case .line: false
        case .closed, .error: true
        }
    }

    func close() async {
        try? await channel.close()
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private let continuation: AsyncStream<Event>.Continuation
        private var pending: [UInt8] = []

        init(_ continuation: AsyncStream<Event>.Continuation) {
            self.continuation = continuation
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            pending.append(contentsOf: unwrapInboundIn(data).readableBytesView)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                continuation.yield(.line(String(decoding: pending[..<newline], as: UTF8.self)))
                pending.removeSubrange(...newline)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            continuation.yield(.closed)
            continuation.finish()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            continuation.yield(.error("\(error)"))
            context.close(promise: nil)
        }
    }
}

/// One envelope line: `request` (a v1 request object's JSON) from `caller`.
func envelope(_ request: String, uid: UInt32 = 0, user: String? = "root", privileged: Bool = true, extra: String = "") -> String {
    let name = user.map { "\"\($0)\"" } ?? "null"
    return #"{"relay":1,\#(extra)"caller":{"uid":\#(uid),"user":\#(name),"privileged":\#(privileged)},"request":\#(request)}"# + "\n"
}
