import Foundation
import Glibc

/// Reads another tool's secret file as root without being led astray by its owner:
/// the last path component is never followed if it is a symbolic link (O_NOFOLLOW);
/// opening never blocks on a FIFO (O_NONBLOCK), and only a regular file is read
/// (fstat on the open descriptor, so there is no window between check and read);
/// the file must belong to the expected owner and not be writable by group or
/// others; its size is capped. The file is opened read-only and never changed.
public enum SecretFile {
    public static let defaultMaxBytes = 64 * 1024

    public struct Read: Sendable {
        public var bytes: [UInt8]
        public var mode: UInt32
        /// Warnings about the file itself (its mode).
        public var issues: [ImportIssue]
    }

    /// - Parameter owner: the uid the file must belong to, with its name for messages.
    public static func read(
        _ path: String, owner: (uid: UInt32, name: String)?, maxBytes: Int = defaultMaxBytes
    ) -> Result<Read, ImportIssue> {
        func refuse(_ message: String) -> Result<Read, ImportIssue> { .failure(ImportIssue(.error, file: path, message)) }
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            switch errno {
            case ELOOP: return refuse("is a symbolic link; not followed (import the file it points to by its own path, if you trust it)")
            case ENOENT: return refuse("does not exist")
            case EACCES: return refuse("cannot be read (permission denied)")
            default: return refuse("cannot be opened: \(String(cString: strerror(errno)))")
            }
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return refuse("cannot be examined: \(String(cString: strerror(errno)))") }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            let what =
                switch type {
                case S_IFIFO: "a FIFO"
                case S_IFDIR: "a directory"
                case S_IFCHR, S_IFBLK: "a device"
                case S_IFSOCK: "a socket"
                default: "not a regular file"
                }
            return refuse("is \(what), not a regular file; not read")
        }
        if let owner, st.st_uid != owner.uid {
            return refuse("belongs to uid \(st.st_uid), not to \(owner.name) (uid \(owner.uid)); someone else could have written its secret")
        }
        let mode = UInt32(st.st_mode & 0o7777)
        let octal = "0" + String(mode, radix: 8)
        if mode & 0o022 != 0 {
            return refuse("is writable by group or others (mode \(octal)); someone else could have written its secret (chmod go-w, check it, then import)")
        }
        guard st.st_size <= maxBytes else { return refuse("is \(st.st_size) bytes, more than the \(maxBytes) a secret file may have") }
        var issues: [ImportIssue] = []
        if mode & 0o044 != 0 {
            issues.append(ImportIssue(
                .warning, file: path,
                "is readable by group or others (mode \(octal)): the secret may have been copied; consider re-enrolling"))
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while bytes.count <= maxBytes {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return refuse("cannot be read: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        guard bytes.count <= maxBytes else { return refuse("grew past \(maxBytes) bytes while being read") }
        return .success(Read(bytes: bytes, mode: mode, issues: issues))
    }

    /// pam_google_authenticator's `secret=` path: `~` at the start and `${HOME}` are
    /// the user's home, `${USER}` the user's name.
    public static func expand(_ pattern: String, user: String, home: String) -> String {
        var path = pattern
        if path.hasPrefix("~") { path = home + path.dropFirst() }
        return path.replacingOccurrences(of: "${HOME}", with: home).replacingOccurrences(of: "${USER}", with: user)
    }
}
