internal import Glibc

/// Loading and writing the master key file, with the checks a security reviewer expects.
///
/// A key file must be a regular file (not a symlink), owned by the daemon's uid,
/// mode 0600 or stricter, and exactly 32 bytes. Every refusal names the file and the fix.
public enum KeyFile {
    /// The systemd credential name (`LoadCredential=otpgate.master-key:...`).
    public static let credentialName = "otpgate.master-key"

    /// The effective uid of this process: the owner a key file must have by default.
    public static var currentUID: UInt32 { geteuid() }

    /// Where the key comes from: the systemd credential if `credentialsDirectory` has it,
    /// else `path`.
    public static func resolve(path: String, credentialsDirectory: String?) -> String {
        if let dir = credentialsDirectory, !dir.isEmpty {
            let candidate = dir + "/" + credentialName
            var st = stat()
            if lstat(candidate, &st) == 0 { return candidate }
        }
        return path
    }

    /// Reads and checks the key at `path`. `owner` is the uid that must own it
    /// (the daemon's own by default); root is accepted too for systemd credentials,
    /// which systemd itself writes.
    public static func load(path: String, owner: UInt32 = currentUID) throws(StoreError) -> MasterKey {
        let bytes = try readProtected(
            path: path, what: "master key", owner: owner, maxLength: 4096,
            missing: "create it with 'otpgated --create-key' (or let otpgated create it on first start)")
        guard bytes.count == MasterKey.length else {
            throw StoreError(
                .keyInvalid,
                "master key \(path) has \(bytes.count) bytes, not \(MasterKey.length): it is truncated or not a key; restore it from backup")
        }
        return try MasterKey(bytes: bytes)
    }

    /// Reads a file that holds a secret (the master key, a database password) with the
    /// same checks for all: a regular file, not a symlink, owned by `owner` (or by root
    /// when it is a systemd credential, which systemd writes), no access for group or
    /// others, at most `maxLength` bytes. `what` names the file in every refusal
    /// ("master key"); `missing` is the fix when it does not exist. Refusals are
    /// `.keyMissing` and `.keyInvalid`. `rootMayOwn` accepts root as the owner of any
    /// path (a TLS private key that root installs and the daemon only reads).
    public static func readProtected(
        path: String, what: String, owner: UInt32 = currentUID, maxLength: Int, missing: String,
        credentialName: String = KeyFile.credentialName, rootMayOwn: Bool = false
    ) throws(StoreError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 {
            let err = errno
            switch err {
            case ENOENT:
                throw StoreError(.keyMissing, "\(what) \(path) does not exist; \(missing)")
            case ELOOP:
                throw StoreError(
                    .keyInvalid,
                    "\(what) \(path) is a symlink; replace it with the regular file it points to (mode 0600)")
            default:
                throw StoreError(.keyInvalid, "\(what) \(path) cannot be opened: \(String(cString: strerror(err)))")
            }
        }
        defer { close(fd) }
        // Checks on the opened file itself, so the file cannot be swapped in between.
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw StoreError(.keyInvalid, "\(what) \(path) cannot be inspected: \(String(cString: strerror(errno)))")
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw StoreError(.keyInvalid, "\(what) \(path) is not a regular file; replace it with one (mode 0600)")
        }
        guard st.st_uid == owner || (st.st_uid == 0 && (rootMayOwn || path.hasSuffix("/" + credentialName))) else {
            throw StoreError(
                .keyInvalid,
                "\(what) \(path) is owned by uid \(st.st_uid), not by the daemon's uid \(owner); fix with 'chown \(owner) \(path)'")
        }
        guard st.st_mode & 0o077 == 0 else {
            let mode = String(st.st_mode & 0o777, radix: 8)
            throw StoreError(
                .keyInvalid,
                "\(what) \(path) has mode 0\(mode), readable or writable by others; fix with 'chmod 600 \(path)'")
        }
        guard st.st_size <= off_t(maxLength) else {
            throw StoreError(.keyInvalid, "\(what) \(path) has \(st.st_size) bytes, more than \(maxLength): it is not a \(what)")
        }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else {
            throw StoreError(.keyInvalid, "\(what) \(path) could not be read in full")
        }
        return bytes
    }

    /// Writes `key` to a new file at `path` (mode 0600, fsynced, then the directory
    /// fsynced). Refuses to overwrite unless `replace` is set, in which case the key
    /// is written to a temporary file first and renamed over `path` atomically.
    public static func write(_ key: MasterKey, to path: String, replace: Bool = false) throws(StoreError) {
        let target = replace ? path + ".tmp" : path
        if replace { unlink(target) }
        let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let err = errno
            if err == EEXIST {
                throw StoreError(.conflict, "master key \(path) already exists; refusing to overwrite it")
            }
            throw StoreError(.keyInvalid, "cannot create master key \(target): \(String(cString: strerror(err)))")
        }
        var ok = fchmod(fd, 0o600) == 0
        ok = ok && key.bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == MasterKey.length
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok else {
            unlink(target)
            throw StoreError(.keyInvalid, "cannot write master key \(target): \(String(cString: strerror(errno)))")
        }
        if replace {
            guard rename(target, path) == 0 else {
                unlink(target)
                throw StoreError(.keyInvalid, "cannot move the new master key into \(path): \(String(cString: strerror(errno)))")
            }
        }
        syncDirectory(of: path)
    }

    public static func isCredential(_ path: String) -> Bool {
        path.hasSuffix("/" + credentialName)
    }

    package static func syncDirectory(of path: String) {
        let dir = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let fd = open(dir.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}
