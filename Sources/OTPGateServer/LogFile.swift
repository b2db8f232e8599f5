internal import Glibc
internal import Synchronization

/// The daemon's own log file (`--log-file`), for hosts without systemd: opened for
/// appending, mode 0640, and reopened on SIGHUP so that logrotate can rename it
/// away without losing a line (lines written between the rename and the reopen
/// land at the end of the renamed file, which logrotate compresses one run later:
/// `delaycompress`).
public final class LogFile: Sendable {
    public let path: String
    private let fd: Mutex<Int32>

    public init(path: String) throws(DaemonError) {
        self.path = path
        fd = Mutex(try Self.open(path))
    }

    /// Opens a fresh descriptor for `path` and swaps it in; the old one is closed
    /// only after the swap, so no line is written to nowhere.
    public func reopen() throws(DaemonError) {
        let new = try Self.open(path)
        let old = fd.withLock { current in defer { current = new }; return current }
        close(old)
    }

    /// One write(2) per line, under the lock, so lines never interleave or straddle
    /// a reopen.
    public func write(_ line: String) {
        var bytes = Array(line.utf8)
        fd.withLock { fd in _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
    }

    private static func open(_ path: String) throws(DaemonError) -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw DaemonError("cannot open log file \(path): \(String(cString: strerror(errno)))")
        }
        // Whoever created it, the log holds user names and hosts: not for everyone.
        var st = stat()
        if fstat(fd, &st) == 0 && st.st_mode & 0o027 != 0 { fchmod(fd, st.st_mode & 0o750) }
        return fd
    }
}
