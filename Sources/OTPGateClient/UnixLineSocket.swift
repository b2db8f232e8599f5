internal import Glibc
import OTPGateProtocol

/// One blocking connection to a Unix stream socket that exchanges protocol lines,
/// with a deadline on every step. Used from a background thread by `OTPGateClient`.
final class UnixLineSocket {
    private let fd: Int32
    private var framer = LineFramer(maxLineBytes: ProtocolLimits.maxReplyLineBytes)
    private let deadline: ContinuousClock.Instant

    init(path: String, timeout: Duration) throws(OTPGateClientError) {
        deadline = .now + timeout
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw OTPGateClientError(.unreachable, "socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        // A local until connected: once `self.fd` is set, a throw runs deinit, which
        // closes it, and a second close here would hit whatever descriptor another
        // thread opened under the same number meanwhile.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw OTPGateClientError(.unreachable, "cannot create a socket: \(Self.errorText())") }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 {
            let err = errno
            close(fd)
            switch err {
            case EACCES, EPERM:
                throw OTPGateClientError(.permissionDenied, "no permission to connect to \(path) (the admin socket needs root)")
            default:
                throw OTPGateClientError(.unreachable, "cannot connect to otpgated at \(path): \(String(cString: strerror(err))); is the daemon running?")
            }
        }
        self.fd = fd
    }

    deinit { close(fd) }

    private static func errorText() -> String { String(cString: strerror(errno)) }

    private func remainingMilliseconds() -> Int32 {
        let left = deadline - .now
        let ms = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, ms))
    }

    private func wait(for events: Int16) throws(OTPGateClientError) {
        while true {
            let ms = remainingMilliseconds()
            guard ms > 0 else { throw OTPGateClientError(.timeout, "otpgated did not answer in time") }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let n = poll(&p, 1, ms)
            if n > 0 { return }
            if n == 0 { throw OTPGateClientError(.timeout, "otpgated did not answer in time") }
            if errno != EINTR { throw OTPGateClientError(.unreachable, "poll failed: \(Self.errorText())") }
        }
    }

    func send(_ line: String) throws(OTPGateClientError) {
        var bytes = Array(line.utf8)[...]
        while !bytes.isEmpty {
            try wait(for: Int16(POLLOUT))
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
            if n > 0 {
                bytes = bytes.dropFirst(n)
            } else if n < 0 && (errno == EINTR || errno == EAGAIN) {
                continue
            } else {
                throw OTPGateClientError(.unreachable, "otpgated closed the connection: \(Self.errorText())")
            }
        }
    }

    func receiveLine() throws(OTPGateClientError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            switch framer.next() {
            case .line(let line): return line
            case .tooLong: throw OTPGateClientError(.protocolError, "the reply is longer than the protocol allows")
            case .needMoreData: break
            }
            try wait(for: Int16(POLLIN))
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                framer.append(buffer[0..<n])
            } else if n < 0 && (errno == EINTR || errno == EAGAIN) {
                continue
            } else {
                throw OTPGateClientError(.unreachable, "otpgated closed the connection before answering")
            }
        }
    }
}
