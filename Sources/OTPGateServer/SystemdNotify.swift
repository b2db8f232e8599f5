internal import Glibc

/// sd_notify(3) without libsystemd: one datagram to `$NOTIFY_SOCKET`, if set.
public enum SystemdNotify {
    /// Sends `state` (e.g. "READY=1"); does nothing outside systemd.
    public static func send(_ state: String, environment: [String: String]) {
        guard let name = environment["NOTIFY_SOCKET"], !name.isEmpty, let address = UnixAddress(name) else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = state.withCString { message in
            address.withSockaddr { sendto(fd, message, strlen(message), Int32(MSG_NOSIGNAL), $0, $1) }
        }
    }

    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, when systemd set it for
    /// this process (`WATCHDOG_PID`, if present, is ours); nil otherwise.
    public static func watchdogInterval(environment: [String: String]) -> Duration? {
        guard let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], pid != String(getpid()) { return nil }
        return .microseconds(usec / 2)
    }
}
