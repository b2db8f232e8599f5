import Glibc

/// A datagram socket standing in for systemd's notify socket (`$NOTIFY_SOCKET`): the
/// daemon fixture learns from it that the daemon is ready, and the sd_notify tests
/// read what the daemon told it.
package final class NotifySocket: Sendable {
    package let path: String
    package let fd: Int32

    /// Binds `path`; `othersMaySend` opens the socket file to every uid (for a daemon
    /// that runs as another user).
    package init(path: String, othersMaySend: Bool = false) throws {
        self.path = path
        unlink(path)
        fd = try UnixAddress.bound(path, type: SOCK_DGRAM)
        if othersMaySend { chmod(path, 0o666) }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next datagram, or nil after `timeout`.
    package func receive(timeout: Duration) -> String? {
        receive(until: .now + timeout, orEndOf: nil).message
    }

    /// The next datagram before `deadline`; stops early (with `ended` true) when
    /// `process` ends first, so a daemon that dies at start fails at once.
    package func receive(until deadline: ContinuousClock.Instant, orEndOf process: ChildProcess?)
        -> (message: String?, ended: Bool)
    {
        let fds = [fd] + (process.map { [$0.exitDescriptor] } ?? [])
        guard let revents = Descriptors.poll(fds, until: deadline) else { return (nil, false) }
        if revents[0] & Int16(POLLIN) != 0 {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n > 0 { return (String(decoding: buffer[..<n], as: UTF8.self), false) }
        }
        return (nil, revents.count > 1 && revents[1] != 0)
    }
}
