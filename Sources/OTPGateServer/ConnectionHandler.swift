internal import COTPGateSystem
internal import Glibc
import Logging
import NIOCore
import NIOPosix
import OTPCore
import OTPGateProtocol

/// Serves one connection, on its event loop: reads the peer's credentials when the
/// connection becomes active, takes whole request lines from `RequestLineDecoder`,
/// runs each request on a worker thread, and writes the reply back through the event
/// loop. No task per connection: a login costs one hop to a worker and one back.
///
/// Back-pressure: the channel does not read by itself (`autoRead` is off). It reads
/// again only when no request is in flight, every line already read has been
/// answered, and the channel is writable, so a client that pipelines requests and
/// never reads its replies holds at most one read, one request and the write buffer's
/// high-water mark of memory, and then simply stops being read.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = RequestFrame
    typealias OutboundOut = ByteBuffer

    /// What every connection of one listener shares.
    struct Context: Sendable {
        let kind: SocketKind
        let handler: any RequestResponder
        let registry: ConnectionRegistry
        /// For root, the daemon's uid, the verify group and the admin socket: the
        /// callers that logins depend on.
        let privilegedPool: NIOThreadPool
        /// For everyone else, so that no local user can queue work ahead of a login.
        let guestPool: NIOThreadPool
        let budget: UIDBudget
        let refusalLog: RefusalLog
        let config: ServerConfig
        let daemonUID: UInt32
        let logger: Logger
    }

    private let shared: Context
    /// The nice value of guest workers (a thread's own, on Linux).
    static let guestNice: Int32 = 10
    private var context: ChannelHandlerContext?
    private var uid: UInt32 = 0
    private var peer: Peer?
    private var pending = CircularBuffer<RequestFrame>()
    private var inFlight = false
    private var inputClosed = false
    private var closing = false
    /// The latest reply's write, so that a close after it waits for it.
    private var lastWrite: EventLoopFuture<Void>?

    init(_ shared: Context) {
        self.shared = shared
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        guard let provider = context.channel as? any SocketOptionProvider else {
            context.close(promise: nil)
            return
        }
        // Completes at once: a socket option read on the channel's own event loop.
        provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            .assumeIsolated()
            .whenComplete { (result: Result<PeerCredentials, any Error>) in
                switch result {
                case .success(let cred): self.admit(cred)
                case .failure:
                    self.shared.logger.error("could not read peer credentials; closing the connection")
                    self.context?.close(promise: nil)
                }
            }
    }

    func channelInactive(context: ChannelHandlerContext) {
        shared.registry.remove(context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending.append(unwrapInboundIn(data))
        serveNext()
    }

    /// A read that completed no line: ask for the rest of it.
    func channelReadComplete(context: ChannelHandlerContext) {
        serveNext()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        serveNext()
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            // The client sent its requests and shut down its side (socat does): it
            // still gets every reply, then the connection closes.
            inputClosed = true
            serveNext()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A client that goes away mid-request: nothing to answer.
        shared.logger.debug("connection ended", metadata: ["peer.uid": "\(uid)", "error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Admission

    private func admit(_ cred: PeerCredentials) {
        guard let context else { return }
        uid = cred.uid
        let exempt = cred.uid == 0 || cred.uid == shared.daemonUID
        if let refusal = shared.registry.admit(context.channel, uid: cred.uid, privileged: exempt) {
            shared.refusalLog.connectionRefused(uid: cred.uid, reason: refusal)
            send(Reply.failure(id: nil, code: .unavailable, message: refusal), thenClose: true)
            return
        }
        let (config, kind, daemonUID) = (shared.config, shared.kind, shared.daemonUID)
        if exempt {
            // Root (every sshd and sudo login) and the daemon's own uid need no group
            // lookups, only their name, which the local passwd file has.
            peerResolved(Peer.resolve(uid: cred.uid, gid: cred.gid, pid: cred.pid, socket: kind, config: config, daemonUID: daemonUID))
            return
        }
        // Group lookups may go to LDAP or sssd: off the event loop.
        let loop = context.eventLoop
        let me = NIOLoopBound(self, eventLoop: loop)
        shared.guestPool.submit { state in
            guard case .active = state else {
                loop.execute { me.value.context?.close(promise: nil) }
                return
            }
            let peer = Peer.resolve(uid: cred.uid, gid: cred.gid, pid: cred.pid, socket: kind, config: config, daemonUID: daemonUID)
            loop.execute { me.value.peerResolved(peer) }
        }
    }

    private func peerResolved(_ peer: Peer) {
        self.peer = peer
        serveNext()
    }

    // MARK: - Requests

    /// Serves queued lines while nothing is in flight and the client reads its
    /// replies; asks for more bytes once every line read so far is answered.
    private func serveNext() {
        while let context, let peer, !inFlight, !closing, context.channel.isWritable {
            guard let frame = pending.popFirst() else {
                if inputClosed {
                    // After the last reply is out, not before: close would drop it.
                    closing = true
                    let channel = context.channel
                    if let lastWrite { lastWrite.whenComplete { _ in channel.close(promise: nil) } } else { channel.close(promise: nil) }
                } else {
                    context.read()
                }
                return
            }
            start(frame, peer: peer, context: context)
        }
    }

    /// Answers a line at once (bad input, over budget) or hands it to a worker.
    private func start(_ frame: RequestFrame, peer: Peer, context: ChannelHandlerContext) {
        guard case .line(let line) = frame else {
            send(RequestError.lineTooLong.reply, thenClose: true)
            return
        }
        let parsed = Result { () throws(RequestError) in try Request.parse(line: line.readableBytesView) }
        // The line carries the code: its only copy here is zeroed once parsed.
        line.wipeInPlace()
        let request: Request
        switch parsed {
        case .success(let r): request = r
        case .failure(let error):
            send(error.reply, thenClose: error.closesConnection)
            return
        }
        // Refusals are not counted here: they cost no more than a count (RefusalAudit).
        if !peer.isPrivileged, peer.socket == .public, request.payload.operation.writesStore,
            case .allowed = Authorizer.decide(request.payload, peer: peer), let wait = shared.budget.take(uid: peer.uid)
        {
            let reply = Reply.failure(
                id: request.id, code: .rateLimited, message: "too many requests from uid \(peer.uid): wait \(wait) s",
                retryAfter: wait)
            send(reply, thenClose: false)
            return
        }
        inFlight = true
        shared.registry.setBusy(context.channel, true)
        let pool = peer.isPrivileged || peer.socket == .admin ? shared.privilegedPool : shared.guestPool
        let (handler, loop) = (shared.handler, context.eventLoop)
        let me = NIOLoopBound(self, eventLoop: loop)
        let guest = pool === shared.guestPool
        pool.submit { state in
            // Guest workers yield the CPU to logins: on two cores a flood from local users
            // otherwise takes as much of it as the login's worker gets.
            if guest { _ = otpgate_set_thread_nice(Self.guestNice) }
            // Written here, off the event loop, into memory that is wiped (SecretBytes).
            let line = handler.answerLine(request, peer: peer, state: state)
            loop.execute { me.value.finished(line) }
        }
    }

    private func finished(_ line: SecretBytes) {
        guard let context else { return }
        inFlight = false
        let draining = shared.registry.setBusy(context.channel, false)
        send(line, thenClose: draining)
        serveNext()
    }

    /// A reply answered on the event loop (a refusal, bad input): no secrets in it.
    private func send(_ reply: Reply, thenClose: Bool) {
        send(Answer(reply).line(), thenClose: thenClose)
    }

    /// The one path by which replies leave: the line, then (if asked) the close, once
    /// the bytes are out. Replies can carry a secret, an otpauth URI or recovery codes:
    /// `line` is wiped when it is released (after the copy below), and the write
    /// buffer, sized to the line so it never grows, is wiped once the kernel has it.
    private func send(_ line: SecretBytes, thenClose: Bool) {
        guard let context, !closing else { return }
        if thenClose { closing = true }
        lastWrite = context.writeWiped(line, thenClose: thenClose)
    }

}

/// Layout-compatible with `struct ucred` from <sys/socket.h>.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

extension WireOperation {
    /// Whether the operation may write to the store (an outcome, a limiter count, an
    /// audit row): `health` and `status` only read. New operations count as writes.
    var writesStore: Bool {
        switch self {
        case .health, .status: false
        default: true
        }
    }
}
