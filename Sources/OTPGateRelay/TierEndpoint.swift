import Logging
import NIOCore
import NIOPosix
import NIOSSL
import OTPGateConfig
import OTPGateProtocol
import Synchronization

/// One tier node: how to open a TLS connection to it, and the connections kept open
/// between requests (at most `kept`; a request that finds none idle opens its own,
/// closed after use when `kept` are idle already).
final class TierEndpoint: Sendable {
    let address: RelayEndpoint
    private let tls: NIOSSLContext
    private let group: any EventLoopGroup
    private let kept: Int
    private let idle = Mutex<[TierConnection]>([])

    init(_ address: RelayEndpoint, tls: NIOSSLContext, group: any EventLoopGroup, kept: Int) {
        self.address = address
        self.tls = tls
        self.group = group
        self.kept = kept
    }

    /// One request to this node. A kept connection found closed is dropped and the
    /// next tried, then a new one opened; all of that is `.notSent` until a write.
    /// `connectBy` bounds opening a connection (connect and handshake), `deadline` the
    /// whole exchange.
    func exchange(_ line: String, connectBy: NIODeadline, deadline: NIODeadline) -> TierOutcome {
        while let connection = takeIdle() {
            switch connection.exchange(line, until: deadline) {
            case .notSent:
                connection.close()
                continue
            case .reply(let reply):
                giveBack(connection)
                return .reply(reply)
            case .unknown(let why):
                connection.close()
                return .unknown(why)
            }
        }
        let connection: TierConnection
        switch connect(by: min(connectBy, deadline)) {
        case .success(let c): connection = c
        case .failure(let error): return .notSent(error.description)
        }
        let outcome = connection.exchange(line, until: deadline)
        if case .reply = outcome { giveBack(connection) } else { connection.close() }
        return outcome
    }

    /// Closes every kept connection (at shutdown).
    func closeAll() {
        for connection in idle.withLock({ list in defer { list = [] }; return list }) { connection.close() }
    }

    /// Whether each kept connection is open (for tests).
    var keptActive: [Bool] { idle.withLock { $0.map(\.isActive) } }

    private func takeIdle() -> TierConnection? {
        idle.withLock { $0.popLast() }
    }

    private func giveBack(_ connection: TierConnection) {
        let keep = idle.withLock { list in
            guard list.count < kept, connection.isActive else { return false }
            list.append(connection)
            return true
        }
        if !keep { connection.close() }
    }

    /// TCP connect and TLS handshake, both before `deadline`.
    func connect(by deadline: NIODeadline) -> Result<TierConnection, TierLinkError> {
        let remaining = deadline - .now()
        guard remaining > .zero else { return .failure(TierLinkError("no time left to connect")) }
        let (tls, host) = (self.tls, address.host)
        // SNI and the name check take a name; an address is checked against the
        // certificate's IP addresses instead (NIOSSL does that with no hostname).
        let serverName = RelayTLS.serverHostname(for: host)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(remaining)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handshake = channel.eventLoop.makePromise(of: Void.self)
                    let ssl = try NIOSSLClientHandler(context: tls, serverHostname: serverName)
                    try channel.pipeline.syncOperations.addHandler(ssl)
                    try channel.pipeline.syncOperations.addHandler(
                        TierReplyHandler(handshake: handshake, maxLineBytes: ProtocolLimits.maxReplyLineBytes))
                }
            }
        let channel: any Channel
        do {
            channel = try bootstrap.connect(host: host, port: address.port).wait()
        } catch {
            return .failure(TierLinkError("cannot connect to \(address): \(error)"))
        }
        let handshake: EventLoopFuture<(Void, NIOLoopBound<TierReplyHandler>)> = channel.eventLoop.flatSubmit {
            // A connection the tier (or the network) closed right after connect has no
            // pipeline left: that is a failed handshake, not a crash.
            guard let handler = try? channel.pipeline.syncOperations.handler(type: TierReplyHandler.self) else {
                return channel.eventLoop.makeFailedFuture(TierLinkError("the connection closed before the TLS handshake"))
            }
            let timer = channel.eventLoop.scheduleTask(deadline: deadline) { handler.abandon("no time left for the TLS handshake") }
            return handler.handshake.futureResult.always { _ in timer.cancel() }.map {
                ((), NIOLoopBound(handler, eventLoop: channel.eventLoop))
            }
        }
        do {
            let (_, handler) = try handshake.wait()
            return .success(TierConnection(channel: channel, handler: handler))
        } catch {
            channel.close(promise: nil)
            let why = NIODeadline.now() >= deadline ? "no time left" : "\(error)"
            return .failure(TierLinkError("TLS handshake with \(address) failed: \(why)"))
        }
    }
}
