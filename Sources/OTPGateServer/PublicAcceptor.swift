internal import COTPGateSystem
internal import Foundation
internal import Glibc
import Logging
import NIOCore
import NIOPosix
import OTPCore
import OTPGateProtocol
import Synchronization

/// The public socket's path for logins: a few threads blocked in accept(2), each
/// serving a root (or daemon-uid) caller's first request from start to end on its own
/// thread (SO_PEERCRED, the line, the request, the reply), so that a PAM login wakes
/// one daemon thread instead of the event loop, a worker and the event loop again.
///
/// Whatever is not one prompt request goes, untouched, to the event loop's
/// `ConnectionHandler` (`handOff`), where every guard of the general path holds:
/// - another uid's connection, at once after SO_PEERCRED (budgets, fair admission,
///   guest workers);
/// - a first line that is not whole within `window` (a silent or dribbling client, a
///   line over the limit, a line sent in pieces);
/// - anything but a hang-up within `window` after the first reply (more requests, a
///   connection kept open).
/// So no client holds an acceptor for longer than `window` plus its own request, nor
/// for any time at all while another connection waits to be accepted; and there are
/// `threads` acceptors (`server.public_acceptors`). Bytes are only peeked
/// until a whole line is there, so the event loop finds the stream as it came.
final class PublicAcceptor: Sendable {
    /// How long a caller may take to send its first line, or to hang up after the
    /// reply, before its connection goes to the event loop.
    static let window: Int32 = 50  // ms
    /// The acceptor threads' name (ps -T, /proc/PID/task/*/comm).
    static let threadName = "otpgate-accept"

    private struct State {
        var stopping = false
        /// Threads blocked in accept(2) or about to be: each takes one connection.
        var waiting = 0
        var running = 0
    }

    private let fd: Int32
    private let threads: Int
    private let shared: ConnectionHandler.Context
    private let handOff: @Sendable (Int32) -> Void
    private let state = Mutex(State())
    private let done: EventLoopPromise<Void>

    /// `fd`: the bound, listening public socket (made blocking here). `handOff` takes
    /// a connected descriptor and serves it on the event loop.
    init(
        fd: Int32, threads: Int, shared: ConnectionHandler.Context, eventLoop: any EventLoop,
        handOff: @escaping @Sendable (Int32) -> Void
    ) {
        self.fd = fd
        self.threads = threads
        self.shared = shared
        self.handOff = handOff
        self.done = eventLoop.makePromise(of: Void.self)
        // Blocking: accept(2) then wakes one waiting thread per connection.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    }

    /// Completes when every acceptor thread has finished (after `stop`).
    var finished: EventLoopFuture<Void> { done.futureResult }

    func start() {
        state.withLock { $0.running = threads }
        for _ in 0..<threads {
            let thread = Thread { [self] in
                _ = otpgate_set_thread_name(Self.threadName)
                run()
                let last = state.withLock { s in
                    s.running -= 1
                    return s.running == 0
                }
                if last {
                    close(fd)
                    done.succeed()
                }
            }
            thread.start()
        }
    }

    /// Stops accepting. A request being served finishes (its reply is sent after its
    /// commit, as always); each thread blocked in accept(2) is woken by a connection
    /// of our own, which it closes. Not shutdown(2): a socket passed by systemd is
    /// systemd's too, and must still work for the next start.
    func stop() {
        let blocked = state.withLock { s -> Int in
            s.stopping = true
            return s.waiting
        }
        guard blocked > 0 else { return }
        // The address the socket is bound to, whoever bound it.
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return }
        for _ in 0..<blocked {
            let wake = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard wake >= 0 else { continue }
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(wake, $0, length) }
            }
            close(wake)
        }
    }

    private var stopping: Bool { state.withLock { $0.stopping } }

    private func run() {
        let buffer = SecretBytes(zeros: ProtocolLimits.maxRequestLineBytes + 1)
        while true {
            let go = state.withLock { s -> Bool in
                if s.stopping { return false }
                s.waiting += 1
                return true
            }
            guard go else { return }
            let conn = otpgate_accept_cloexec(fd)
            let err = errno
            let stop = state.withLock { s -> Bool in
                s.waiting -= 1
                return s.stopping
            }
            if conn < 0 {
                if stop { return }
                if err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM {
                    shared.logger.error("accept failed: \(String(cString: strerror(err)))")
                    poll(nil, 0, 100)
                }
                continue
            }
            if stop {
                close(conn)
                return
            }
            serve(conn, buffer: buffer)
        }
    }

    /// Serves one connection's first request here, or hands the connection on.
    private func serve(_ conn: Int32, buffer: SecretBytes) {
        var cred = PeerCredentials()
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0 else {
            shared.logger.error("could not read peer credentials; closing the connection")
            close(conn)
            return
        }
        guard cred.uid == 0 || cred.uid == shared.daemonUID else { return handOff(conn) }
        let line: Int
        switch firstLine(conn, into: buffer) {
        case .line(let n): line = n
        case .hungUp:
            close(conn)
            return
        case .other: return handOff(conn)
        }
        let peer = Peer.resolve(
            uid: cred.uid, gid: cred.gid, pid: cred.pid, socket: .public, config: shared.config, daemonUID: shared.daemonUID)
        let parsed = buffer.withUnsafeBytes { bytes in
            Result { () throws(RequestError) in try Request.parse(line: UnsafeRawBufferPointer(rebasing: bytes[0..<line])) }
        }
        // The line carries the code: its only copy here is zeroed once parsed.
        buffer.withUnsafeMutableBytes { SecretBytes.wipe(UnsafeMutableRawBufferPointer(rebasing: $0[0...line])) }
        let reply: SecretBytes
        var closes = false
        switch parsed {
        case .success(let request):
            reply = shared.handler.answerLine(request, peer: peer, state: .active)
        case .failure(let error):
            reply = Answer(error.reply).line()
            closes = error.closesConnection
        }
        // While stopping, nothing more is read: the connection closes after its reply.
        guard send(reply, to: conn), !closes, !stopping, !hangsUp(conn), !stopping else {
            close(conn)
            return
        }
        handOff(conn)
    }

    private enum FirstLine {
        case line(Int)
        case hungUp
        /// Not a whole line in time, over the limit, or an error: the event loop decides.
        case other
    }

    /// Waits up to `window` for the first line and takes it off the socket (its
    /// bytes, without the "\n", at the start of `buffer`) only when it is whole.
    private func firstLine(_ conn: Int32, into buffer: SecretBytes) -> FirstLine {
        guard readable(conn) else { return .other }
        return buffer.withUnsafeMutableBytes { bytes -> FirstLine in
            let n = recv(conn, bytes.baseAddress, bytes.count, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
            if n == 0 { return .hungUp }
            guard n > 0 else { return .other }
            let newline = bytes[0..<n].firstIndex(of: UInt8(ascii: "\n"))
            // What was peeked past the line (or all of it, when there is no line) stays
            // on the socket: its copy here is zeroed. The line's is, once parsed.
            let keep = newline.map { $0 + 1 } ?? 0
            SecretBytes.wipe(UnsafeMutableRawBufferPointer(rebasing: bytes[keep..<n]))
            guard let newline, newline <= ProtocolLimits.maxRequestLineBytes else {
                SecretBytes.wipe(UnsafeMutableRawBufferPointer(rebasing: bytes[0..<keep]))
                return .other
            }
            // The same bytes again, now taken off the socket: exactly the line.
            guard recv(conn, bytes.baseAddress, newline + 1, Int32(MSG_DONTWAIT)) == newline + 1 else {
                SecretBytes.wipe(UnsafeMutableRawBufferPointer(rebasing: bytes[0..<keep]))
                return .hungUp
            }
            return .line(newline)
        }
    }

    /// After the reply: whether the client hangs up within `window` (as pam_otpgate
    /// does), so the connection ends here without a trip to the event loop.
    private func hangsUp(_ conn: Int32) -> Bool {
        guard readable(conn) else { return false }
        var byte: UInt8 = 0
        return recv(conn, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) == 0
    }

    /// Whether `conn` has something to read within `window`. Not while another
    /// connection waits to be accepted: then this one goes to the event loop at once,
    /// so callers that say nothing never make a queue in front of a login.
    private func readable(_ conn: Int32) -> Bool {
        var p = [pollfd(fd: conn, events: Int16(POLLIN), revents: 0), pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        while true {
            let n = poll(&p, 2, Self.window)
            if n > 0 { return p[0].revents & Int16(POLLIN | POLLHUP) != 0 }
            if n == 0 || errno != EINTR { return false }
        }
    }

    /// The whole reply, blocking. A first reply is far below the socket's buffer, so
    /// this does not wait on the client; a client gone away gets nothing.
    private func send(_ reply: SecretBytes, to conn: Int32) -> Bool {
        reply.withUnsafeBytes { bytes in
            var sent = 0
            while sent < bytes.count {
                let n = Glibc.send(conn, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                sent += n
            }
            return true
        }
    }
}
