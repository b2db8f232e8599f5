internal import Glibc

/// Checks and prepares the database directory and file before SQLite touches them.
///
/// The directory is created 0700 if missing; an existing one must be a real directory
/// (not a symlink) owned by us and not writable by group or others. The database file
/// is created 0600 before SQLite opens it, because SQLite gives its -wal and -shm files
/// the mode of the main file.
enum StorePath {
    static func prepare(databasePath path: String) throws(StoreError) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, let name = parts.last, !name.isEmpty else {
            throw StoreError(.unsafePath, "database path \(path) must name a file inside a directory")
        }
        let dir = parts.dropLast().joined(separator: "/")
        let directory = dir.isEmpty ? "/" : dir
        try prepareDirectory(directory)
        try prepareFile(path)
    }

    static func prepareDirectory(_ dir: String) throws(StoreError) {
        var st = stat()
        if lstat(dir, &st) != 0 {
            guard errno == ENOENT else {
                throw StoreError(.unsafePath, "database directory \(dir) cannot be inspected: \(String(cString: strerror(errno)))")
            }
            guard mkdir(dir, 0o700) == 0 || errno == EEXIST else {
                throw StoreError(.unsafePath, "cannot create database directory \(dir): \(String(cString: strerror(errno)))")
            }
            guard lstat(dir, &st) == 0 else {
                throw StoreError(.unsafePath, "database directory \(dir) cannot be inspected: \(String(cString: strerror(errno)))")
            }
        }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            throw StoreError(
                .unsafePath,
                "database directory \(dir) is a symlink or not a directory; point state_dir at a real directory")
        }
        guard st.st_uid == geteuid() else {
            throw StoreError(
                .unsafePath,
                "database directory \(dir) is owned by uid \(st.st_uid), not by the daemon's uid \(geteuid()); fix with 'chown \(geteuid()) \(dir)'")
        }
        guard st.st_mode & 0o022 == 0 else {
            throw StoreError(
                .unsafePath,
                "database directory \(dir) is writable by others (mode 0\(String(st.st_mode & 0o777, radix: 8))); fix with 'chmod 700 \(dir)'")
        }
        if st.st_mode & 0o777 != 0o700 {
            chmod(dir, 0o700)
        }
    }

    /// Uses only lstat and chmod on an existing file, never open and close: closing
    /// any descriptor of a database file drops every POSIX lock this process holds on
    /// it, including those of SQLite connections that are already open, after which
    /// another process may recover or truncate the WAL under them.
    static func prepareFile(_ path: String) throws(StoreError) {
        var st = stat()
        if lstat(path, &st) != 0 {
            guard errno == ENOENT else {
                throw StoreError(.unsafePath, "database \(path) cannot be inspected: \(String(cString: strerror(errno)))")
            }
            // New: create it 0600 ourselves, since SQLite gives -wal and -shm the
            // mode of the main file. Nobody else can hold locks on a file just made.
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw StoreError(.unsafePath, "cannot create database \(path): \(String(cString: strerror(errno)))")
            }
            fchmod(fd, 0o600)
            close(fd)
            return
        }
        for (file, fst) in [(path, st)] + existingSidecars(of: path) {
            guard fst.st_mode & S_IFMT == S_IFREG else {
                throw StoreError(.unsafePath, "database file \(file) is a symlink or not a regular file; move the real file there instead")
            }
            guard fst.st_uid == geteuid() else {
                throw StoreError(
                    .unsafePath,
                    "database file \(file) is owned by uid \(fst.st_uid), not by the daemon's uid \(geteuid()); fix with 'chown \(geteuid()) \(file)'")
            }
            if fst.st_mode & 0o777 != 0o600 { chmod(file, 0o600) }
        }
    }

    private static func existingSidecars(of path: String) -> [(String, stat)] {
        ["-wal", "-shm"].compactMap { suffix in
            var st = stat()
            return lstat(path + suffix, &st) == 0 ? (path + suffix, st) : nil
        }
    }
}
