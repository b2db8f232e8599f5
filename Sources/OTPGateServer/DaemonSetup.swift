internal import Glibc
public import Logging
public import OTPGateStore

/// What otpgated does before it listens: prepare the state directory, find or create
/// the key, open the store. Each failure is one line that says what to do.
public enum DaemonSetup {
    /// The state directory of `--state-dir`: 0755 so the public socket in it is
    /// reachable; the store sits in its own 0700 subdirectory.
    public static func prepareStateDirectory(_ dir: String) throws(DaemonError) {
        var st = stat()
        if lstat(dir, &st) != 0 {
            guard mkdir(dir, 0o755) == 0 else {
                throw DaemonError("cannot create state directory \(dir): \(String(cString: strerror(errno)))")
            }
            chmod(dir, 0o755)
        } else if st.st_mode & S_IFMT != S_IFDIR {
            throw DaemonError("state directory \(dir) is not a directory (or is a symlink)")
        } else if st.st_mode & 0o022 != 0 {
            throw DaemonError("state directory \(dir) is writable by others; fix with 'chmod 755 \(dir)'")
        }
    }

    /// The key, created on first start when neither it nor a store exists yet. A
    /// missing key for an existing store is an error: a new key could not open it.
    public static func loadOrCreateKey(
        config: ServerConfig, credentialsDirectory: String?, logger: Logger
    ) throws(StoreError) -> (key: MasterKey, source: String) {
        let path = KeyFile.resolve(path: config.keyFile, credentialsDirectory: credentialsDirectory)
        // (Plain catch and rethrow: `catch where` on a typed throw crashes Swift 6.3.1.)
        do {
            return (try KeyRotation.loadKey(keyFile: path, storePath: config.databasePath), path)
        } catch {
            guard error.code == .keyMissing else { throw error }
            var st = stat()
            let storeExists = lstat(config.databasePath, &st) == 0 && st.st_size > 0
            guard !storeExists, path == config.keyFile else {
                throw StoreError(
                    .keyMissing,
                    "master key \(path) does not exist, but the store \(config.databasePath) does: restore the key from backup (a new key cannot open it)")
            }
            let key = try MasterKey.generate()
            try KeyFile.write(key, to: path)
            logger.notice("created a new master key; back it up", metadata: ["key.path": "\(path)", "key.id": "\(key.id)"])
            return (key, path)
        }
    }
}
