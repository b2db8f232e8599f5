internal import Glibc
public import Logging
public import OTPGateStore
import OTPGateVersion

/// What otpgated does before it listens: prepare the state directory, find or create
/// the key, open the store, check its generation. Each failure is one line that says
/// what to do.
public enum DaemonSetup {
    /// The state directory of `--state-dir`: 0755 so the public socket in it is
    /// reachable; the store sits in its own 0700 subdirectory. It must belong to root
    /// or to the daemon's user: whoever owns it could delete the key and the store.
    public static func prepareStateDirectory(_ dir: String) throws(DaemonError) {
        var st = stat()
        if lstat(dir, &st) != 0 {
            guard mkdir(dir, 0o755) == 0 else {
                throw DaemonError("cannot create state directory \(dir): \(String(cString: strerror(errno)))")
            }
            chmod(dir, 0o755)
        } else if st.st_mode & S_IFMT != S_IFDIR {
            throw DaemonError("state directory \(dir) is not a directory (or is a symlink)")
        } else if st.st_uid != 0 && st.st_uid != geteuid() {
            throw DaemonError(
                "state directory \(dir) is owned by uid \(st.st_uid), who could delete the key and the store; fix with 'chown \(geteuid()) \(dir)'")
        } else if st.st_mode & 0o022 != 0 {
            throw DaemonError("state directory \(dir) is writable by others; fix with 'chmod 755 \(dir)'")
        }
    }

    /// The directory holding the key (and the generation file) must belong to root or
    /// to the daemon's user and be writable by nobody else, for the same reason.
    public static func checkKeyDirectory(of path: String) throws(DaemonError) {
        let dir = directory(of: path)
        var st = stat()
        guard lstat(dir, &st) == 0 else { return }  // a missing one fails later, naming the key
        guard st.st_uid == 0 || st.st_uid == geteuid() else {
            throw DaemonError(
                "key directory \(dir) is owned by uid \(st.st_uid), who could replace the key and its generation; fix with 'chown \(geteuid()) \(dir)'")
        }
        guard st.st_mode & 0o022 == 0 else {
            throw DaemonError("key directory \(dir) is writable by others; fix with 'chmod 755 \(dir)'")
        }
    }

    /// The key, created on first start when neither it nor a store exists yet. A
    /// missing key for an existing store is an error: a new key could not open it.
    /// `created` says whether the key was made now.
    public static func loadOrCreateKey(
        config: ServerConfig, credentialsDirectory: String?, logger: Logger
    ) throws(StoreError) -> (key: MasterKey, source: String, created: Bool) {
        let path = KeyFile.resolve(path: config.keyFile, credentialsDirectory: credentialsDirectory)
        // (Plain catch and rethrow: `catch where` on a typed throw crashes Swift 6.3.1.)
        do {
            return (try KeyRotation.loadKey(keyFile: path, storePath: config.databasePath), path, false)
        } catch {
            guard error.code == .keyMissing else { throw error }
            guard !storeExists(config.databasePath), path == config.keyFile else {
                throw StoreError(
                    .keyMissing,
                    "master key \(path) does not exist, but the store \(config.databasePath) does: restore the key from backup (a new key cannot open it)")
            }
            let key = try MasterKey.generate()
            try KeyFile.write(key, to: path)
            logger.notice("created a new master key; back it up", metadata: ["key.path": "\(path)", "key.id": "\(key.id)"])
            return (key, path, true)
        }
    }

    /// Left by `otpgated --create-key` next to the store it could not create yet
    /// (as root, before the daemon's user runs): the first start may make the store.
    public static func newStoreMarker(_ config: ServerConfig) -> String { config.databasePath + ".new" }

    /// Opens the store. Beside a key that existed before this start, a missing or
    /// empty store is refused (a failed mount, a cleanup or a restore to the wrong
    /// path would otherwise leave every user "not enrolled", and `nullok` would let
    /// them in on a password alone), unless `newStore` is given or `--create-key`
    /// left its marker. `created` says whether the store was made now.
    public static func openStore(
        config: ServerConfig, key: MasterKey, keySource: String, keyCreated: Bool, newStore: Bool, logger: Logger,
        now: Int64
    ) throws(StoreError) -> (store: OTPStore, created: Bool) {
        let marker = newStoreMarker(config)
        let existed = storeExists(config.databasePath)
        var st = stat()
        let marked = lstat(marker, &st) == 0 && st.st_mode & S_IFMT == S_IFREG
        let mayCreate = keyCreated || newStore || marked
        let store: OTPStore
        do {
            store = try OTPStore(
                path: config.databasePath, key: key, keySource: keySource, logger: logger,
                limiterPolicy: LimiterPolicy(config.limiter), create: mayCreate, now: now)
        } catch {
            if error.code == .storeNewer { throw StoreError(.storeNewer, "\(error.message) (this is otpgated \(OTPGateVersion.current))") }
            guard error.code == .storeMissing else { throw error }
            throw StoreError(
                .storeMissing,
                "\(error.message), but the master key \(keySource) exists, so it should hold the enrolled users: mount or restore the store (from backup) at that path; to start over with an empty store (every user loses their tokens), start once with --new-store")
        }
        if marked { unlink(marker) }
        if !existed && newStore && !keyCreated {
            logger.warning("created an empty store beside an existing key (--new-store)", metadata: ["store.path": "\(config.databasePath)"])
        }
        return (store, !existed)
    }

    /// Checks the store's generation against the generation file and raises both by
    /// one. A store older than the file is refused unless `acceptRollback`, which is
    /// audited. A generation file that cannot be written (a read-only key directory)
    /// turns the check off, with a warning, rather than stopping logins.
    /// A store made at this start (`created`) has no past to be older than; one made
    /// beside an existing key (`--new-store`) is audited as `store.created`.
    public static func checkGeneration(
        store: OTPStore, config: ServerConfig, created: Bool, besideExistingKey: Bool, acceptRollback: Bool,
        logger: Logger, now: Int64
    ) throws(StoreError) {
        let path = config.resolvedGenerationFile
        let stored = try store.generation()
        let recorded = try StoreGeneration.read(path)
        var audit: AuditEvent?
        if created {
            guard besideExistingKey else { return try advanceGeneration(store: store, path: path, from: recorded ?? 0, audit: nil, logger: logger) }
            audit = AuditEvent(
                time: now, event: "store.created", peerUID: Int64(geteuid()),
                detail: recorded.map { "empty store; the generation file \(path) recorded \($0)" } ?? "empty store")
        } else if let recorded, stored < recorded {
            guard acceptRollback else {
                throw StoreError(
                    .storeRolledBack,
                    "the store \(config.databasePath) is at generation \(stored), older than the \(recorded) that \(path) records: it is an older copy (a restored backup?) and would revive used codes and forget failures; restore the newest copy, or accept this one with --accept-rollback (audited)")
            }
            logger.warning(
                "accepted an older store (--accept-rollback)",
                metadata: ["store.generation": "\(stored)", "generation.recorded": "\(recorded)"])
            audit = AuditEvent(
                time: now, event: "store.rollback_accepted", peerUID: Int64(geteuid()),
                detail: "store generation \(stored), generation file \(recorded) (\(path))")
        }
        try advanceGeneration(store: store, path: path, from: max(stored, recorded ?? 0), audit: audit, logger: logger)
    }

    /// Raises the generation (store first, then file) at a clean stop, so that a copy
    /// taken while the daemon ran is older than the store it leaves behind.
    public static func advanceGeneration(store: OTPStore, config: ServerConfig, logger: Logger) {
        do {
            let path = config.resolvedGenerationFile
            let current = max(try store.generation(), try StoreGeneration.read(path) ?? 0)
            try advanceGeneration(store: store, path: path, from: current, audit: nil, logger: logger)
        } catch {
            logger.error("could not raise the store generation", metadata: ["error": "\(error)"])
        }
    }

    private static func advanceGeneration(
        store: OTPStore, path: String, from current: UInt64, audit: AuditEvent?, logger: Logger
    ) throws(StoreError) {
        // The store first: a crash before the file is written leaves the store ahead,
        // which the next start accepts.
        try store.setGeneration(current + 1, audit: audit)
        do {
            try StoreGeneration.write(current + 1, to: path)
        } catch {
            logger.warning(
                "cannot record the store generation: a restored older store will not be detected; make paths.generation_file writable (outside the state directory)",
                metadata: ["generation.path": "\(path)", "error": "\(error.message)"])
        }
    }

    static func storeExists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && st.st_size > 0
    }

    static func directory(of path: String) -> String {
        let dir = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return dir.isEmpty ? "/" : dir
    }
}
