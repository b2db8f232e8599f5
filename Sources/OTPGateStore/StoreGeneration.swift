internal import Glibc

/// The store's generation, kept in a small file outside the store (beside the key
/// by default), where restoring a copy of the store alone does not reach.
///
/// The daemon raises the generation in the store and then in the file at every
/// start and at every clean stop. A store whose generation is lower than the file's
/// is an older copy of the store (a restored backup, a snapshot rolled back): it
/// would revive used codes and forget failures, so the daemon refuses it unless an
/// admin overrides that once (audited). The file holds one decimal number and a
/// newline; it is written to a temporary file, fsynced and renamed into place.
public enum StoreGeneration {
    /// The generation in `path`; nil if there is no such file.
    public static func read(_ path: String) throws(StoreError) -> UInt64? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StoreError(.unsafePath, "generation file \(path) cannot be opened: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw StoreError(.unsafePath, "generation file \(path) is not a regular file; remove it and restore the store's")
        }
        guard st.st_uid == geteuid() || st.st_uid == 0 else {
            throw StoreError(
                .unsafePath,
                "generation file \(path) is owned by uid \(st.st_uid), not by the daemon's uid \(geteuid()); fix with 'chown \(geteuid()) \(path)'")
        }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 32) }
        let text = n > 0 ? String(decoding: buffer.prefix(n), as: UTF8.self) : ""
        guard text.hasSuffix("\n"), let value = UInt64(text.dropLast()) else {
            throw StoreError(.unsafePath, "generation file \(path) does not hold a generation number; restore it from backup")
        }
        return value
    }

    /// Replaces the file at `path` with `value`, durably.
    public static func write(_ value: UInt64, to path: String) throws(StoreError) {
        let temporary = path + ".tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StoreError(.unsafePath, "cannot write generation file \(temporary): \(String(cString: strerror(errno)))")
        }
        let bytes = Array("\(value)\n".utf8)
        var ok = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw StoreError(.unsafePath, "cannot write generation file \(path): \(reason)")
        }
        KeyFile.syncDirectory(of: path)
    }
}
