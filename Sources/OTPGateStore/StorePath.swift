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

    static func prepareFile(_ path: String) throws(StoreError) {
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == ELOOP {
                throw StoreError(.unsafePath, "database \(path) is a symlink; move the real file there instead")
            }
            throw StoreError(.unsafePath, "cannot open database \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw StoreError(.unsafePath, "database \(path) is not a regular file")
        }
        guard st.st_uid == geteuid() else {
            throw StoreError(
                .unsafePath,
                "database \(path) is owned by uid \(st.st_uid), not by the daemon's uid \(geteuid()); fix with 'chown \(geteuid()) \(path)'")
        }
        if st.st_mode & 0o777 != 0o600 {
            fchmod(fd, 0o600)
        }
        for suffix in ["-wal", "-shm"] {
            var sst = stat()
            if lstat(path + suffix, &sst) == 0 {
                guard sst.st_mode & S_IFMT == S_IFREG else {
                    throw StoreError(.unsafePath, "database file \(path + suffix) is a symlink or not a regular file")
                }
                if sst.st_mode & 0o777 != 0o600 && sst.st_uid == geteuid() { chmod(path + suffix, 0o600) }
            }
        }
    }
}
