import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import OTPCore
import OTPGateProtocol
import OTPGateServer
import OTPGateTLS

/// Serves one relay's connection, on its event loop: names the relay from its
/// certificate once the TLS handshake is done (and refuses a denied one or one over
/// its connection limit), parses each envelope line, runs the request on a worker
/// thread as the caller the relay vouches for, with the relay's identity as the host,
/// and writes the v1 reply back. One request in flight: a relay that sends a second
/// line before the first is answered is closed (docs/RELAY.md).
final class RelayConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = RequestFrame
    typealias OutboundOut = ByteBuffer

    struct Shared: Sendable {
        let handler: RequestHandler
        let registry: RelayRegistry
        let pool: NIOThreadPool
        let handshakeTimeout: TimeAmount
        let logger: Logger
    }

    private let shared: Shared
    private let deadline: LineDeadlineHandler
    private var context: ChannelHandlerContext?
    private var identity: PeerIdentity?
    private var admitted = false
    private var inFlight = false
    private var closing = false
    private var handshakeTimer: Scheduled<Void>?

    init(_ shared: Shared, deadline: LineDeadlineHandler) {
        self.shared = shared
        self.deadline = deadline
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let (channel, logger) = (context.channel, shared.logger)
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: shared.handshakeTimeout) {
            logger.info("relay link: no TLS handshake in time; closing", metadata: ["remote": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        if admitted, let identity { shared.registry.remove(context.channel, name: identity.name) }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            handshakeTimer?.cancel()
            handshakeTimer = nil
            admit(context: context)
            return
        }
        if event is IdleStateHandler.IdleStateEvent {
            if !inFlight { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Not TLS, a certificate the CA did not sign, an expired one, a client gone: the
        // connection ends; nothing else is disturbed.
        shared.logger.info(
            "relay link: connection refused or ended",
            metadata: ["relay": "\(identity?.name ?? "-")", "remote": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")", "error": "\(error)"])
        context.close(promise: nil)
    }

    private func admit(context: ChannelHandlerContext) {
        let certificate: NIOSSLCertificate
        do {
            guard let peer = try context.pipeline.syncOperations.nioSSL_peerCertificate() else {
                refuse("the relay presented no certificate", code: .forbidden)
                return
            }
            certificate = peer
        } catch {
            refuse("the relay's certificate cannot be read", code: .forbidden)
            return
        }
        let identity: PeerIdentity
        do { identity = try PeerIdentity(certificate: certificate) } catch {
            refuse("the relay's certificate does not name a host: \(error.message)", code: .forbidden)
            return
        }
        self.identity = identity
        if let refusal = shared.registry.admit(context.channel, name: identity.name, fingerprint: identity.fingerprint) {
            shared.logger.notice("relay link: \(refusal)", metadata: ["relay": "\(identity.name)", "fingerprint": "\(identity.fingerprint)"])
            refuse(refusal, code: refusal.contains("denied") ? .forbidden : .unavailable)
            return
        }
        admitted = true
        shared.logger.debug("relay link: relay connected", metadata: ["relay": "\(identity.name)"])
    }

    private func refuse(_ message: String, code: WireErrorCode) {
        send(Answer(.failure(id: nil, code: code, message: message)).line(), thenClose: true)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        deadline.lineCompleted()
        guard admitted, let identity, !closing else {
            if case .line(let line) = frame { line.wipeInPlace() }
            if !closing { context.close(promise: nil) }
            return
        }
        guard case .line(let line) = frame else {
            send(
                Answer(RequestError(.badRequest, "relay envelope exceeds \(RelayEnvelope.maxLineBytes) bytes", closesConnection: true).reply).line(),
                thenClose: true)
            return
        }
        guard !inFlight else {
            line.wipeInPlace()
            shared.logger.notice("relay link: a second request while one is in flight; closing", metadata: ["relay": "\(identity.name)"])
            closing = true
            context.close(promise: nil)
            return
        }
        let parsed = Result { () throws(RequestError) in try RelayEnvelope.parse(line: line.readableBytesView) }
        // The line carries the code: its only copy here is zeroed once parsed.
        line.wipeInPlace()
        let envelope: RelayEnvelope
        switch parsed {
        case .success(let e): envelope = e
        case .failure(let error):
            send(Answer(error.reply).line(), thenClose: error.closesConnection)
            return
        }
        guard shared.registry.take(name: identity.name) else {
            envelope.request.wipeSecrets()
            let reply = Reply.failure(
                id: envelope.request.id, code: .rateLimited,
                message: "relay \(identity.name) exceeds \(shared.registry.requestsPerSecond) requests per second on this tier: wait 1 s",
                retryAfter: 1)
            send(Answer(reply).line(), thenClose: false)
            return
        }
        let caller = envelope.caller
        let peer = Peer(
            uid: caller.uid, gid: UInt32.max, pid: 0, socket: .public, userName: caller.user, isAdmin: false,
            isPrivileged: caller.privileged, host: identity.name)
        let request = envelope.request
        inFlight = true
        let (handler, loop) = (shared.handler, context.eventLoop)
        let me = NIOLoopBound(self, eventLoop: loop)
        shared.pool.submit { state in
            let line = handler.answerLine(request, peer: peer, state: state)
            loop.execute { me.value.finished(line) }
        }
    }

    private func finished(_ line: SecretBytes) {
        inFlight = false
        send(line, thenClose: false)
    }

    /// The one path replies leave by (as ConnectionHandler's): the buffer is sized to
    /// the line and wiped once written; `line` wipes itself when released.
    private func send(_ line: SecretBytes, thenClose: Bool) {
        guard let context, !closing else { return }
        if thenClose { closing = true }
        _ = context.writeWiped(line, thenClose: thenClose)
    }
}
