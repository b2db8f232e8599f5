internal import Foundation
internal import Glibc
public import Logging
public import OTPGateStoreContract
import OTPGateStore
import Synchronization

/// A tier node's master keys, and the rekey across the tier (docs/OPERATIONS.md,
/// "Rekey"): the tier's key in `master.key`, the next one staged beside it in
/// `master.key.next` (read with the same checks). Both are reported to the tier and
/// both open secrets, so the rekey can begin only once every node holds the next key.
///
/// `rekey` (on the node that runs `otpgate admin rekey`) moves the shared store to the
/// next key, then settles this node. `settle` (every node, at start, on SIGHUP and
/// every minute) picks up a newly staged next key, and once the tier's rekey has
/// finished, re-seals this node's local store under the next key and renames
/// `master.key.next` over `master.key`. Every step can be redone, so a crash at any
/// point leaves a state the next `rekey` or `settle` finishes:
/// - before the tier's rekey begins, nothing has changed;
/// - between its begin and its finish, the node starts with both keys and `rekey`
///   resumes;
/// - after it, the local store is re-sealed (one SQLite transaction) and the file
///   renamed; a start that finds the local store under the next key renames first
///   (`loadNext`).
public final class TierKeys: Sendable {
    public let keyFile: String
    public var nextFile: String { keyFile + ".next" }
    let local: any StoreContract
    let shared: any TierKeyStore
    let logger: Logger
    private let state: Mutex<State>
    /// Held by one rekey or settle at a time.
    private let step = NSLock()

    struct State {
        var current: MasterKey
        var next: MasterKey?
    }

    public init(keyFile: String, current: MasterKey, next: MasterKey?, local: any StoreContract, shared: any TierKeyStore, logger: Logger) {
        self.keyFile = keyFile
        self.local = local
        self.shared = shared
        self.logger = logger
        self.state = Mutex(State(current: current, next: next))
    }

    /// The next key staged beside `keyFile`, if any, before the stores open. A local
    /// store already under it means the tier's rekey finished and this node re-sealed
    /// its store but crashed before the rename: the rename is done now, and the next
    /// key is the current one.
    public static func loadNext(
        keyFile: String, current: MasterKey, localStorePath: String, owner: UInt32 = KeyFile.currentUID
    ) throws(StoreError) -> (current: MasterKey, next: MasterKey?) {
        let path = keyFile + ".next"
        guard let next = try staged(at: path, owner: owner) else { return (current, nil) }
        guard next.id != current.id else {
            unlink(path)
            return (current, nil)
        }
        var st = stat()
        let storeExists = lstat(localStorePath, &st) == 0 && st.st_size > 0
        if storeExists, try OTPStore.keyID(ofStoreAt: localStorePath) == next.id {
            try swapFiles(path, keyFile)
            return (next, nil)
        }
        return (current, next)
    }

    /// The key staged at `path` (read with the key file's checks), or nil when there is
    /// no file.
    static func staged(at path: String, owner: UInt32 = KeyFile.currentUID) throws(StoreError) -> MasterKey? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return try KeyFile.load(path: path, owner: owner)
    }

    static func swapFiles(_ next: String, _ keyFile: String) throws(StoreError) {
        guard rename(next, keyFile) == 0 else {
            throw StoreError(.keyInvalid, "cannot rename \(next) over \(keyFile): \(String(cString: strerror(errno)))")
        }
        KeyFile.syncDirectory(of: keyFile)
    }

    public var currentKey: MasterKey { state.withLock { $0.current } }
    public var nextKey: MasterKey? { state.withLock { $0.next } }

    /// One step at a time: a rekey waits for a settle under way (a short one); a settle
    /// while another step runs is skipped (`nil`): the next check does it.
    private func exclusively<T>(wait: Bool, _ body: () throws(StoreError) -> T) throws(StoreError) -> T? {
        if wait { step.lock() } else if !step.try() { return nil }
        defer { step.unlock() }
        return try body()
    }

    /// `otpgate admin rekey` on a tier node: the shared store moves to the next key
    /// (refused before anything changes while a node lacks it), then this node's local
    /// store and key file follow. Returns the new key and the secrets under it.
    public func rekey(now: Int64) throws(StoreError) -> (key: MasterKey, secrets: Int) {
        let result = try exclusively(wait: true) { () throws(StoreError) -> (key: MasterKey, secrets: Int) in
            try pickUpNext()
            guard let next = state.withLock({ $0.next }) else {
                throw StoreError(
                    .conflict,
                    "no next key: put the new key in \(nextFile) (mode 0600, owned by the daemon's user) on every tier node, send them SIGHUP (or restart them), then run rekey again (docs/OPERATIONS.md, Rekey)")
            }
            let shared = try self.shared.rekey(to: next, now: now)
            let local = try finish(next, now: now)
            return (next, shared + local)
        }
        guard let result else { throw StoreError(.conflict, "a rekey of the tier did not run") }
        return result
    }

    /// What every node runs at start, on SIGHUP and every minute. Failures are logged
    /// (the next run retries); nothing is half-applied.
    public func settle(now: Int64) {
        do {
            _ = try exclusively(wait: false) { () throws(StoreError) in
                try pickUpNext()
                guard let next = state.withLock({ $0.next }) else { return }
                let tier = try shared.tierKeyState()
                guard tier.current == next.id.description else { return }
                if tier.previous == nil {
                    _ = try finish(next, now: now)
                } else {
                    // The tier's rekey runs: seal under the new key, keep the old file.
                    let current = state.withLock { $0.current }
                    try shared.hold(Keyring(current: next, others: [current]), reporting: [current.id, next.id])
                }
            }
        } catch {
            logger.error("tier key check failed; retried in a minute", metadata: ["error": "\(error.message)"])
        }
    }

    /// A next key staged since the start (or since the last rekey): loaded with the key
    /// file's checks and reported beside the current one.
    private func pickUpNext() throws(StoreError) {
        let current = state.withLock { $0.current }
        guard state.withLock({ $0.next }) == nil else { return }
        guard let next = try Self.staged(at: nextFile), next.id != current.id else { return }
        try shared.hold(Keyring(current: current, others: [next]), reporting: [current.id, next.id])
        state.withLock { $0.next = next }
        logger.notice("next master key loaded beside the current one", metadata: ["key.current": "\(current.id)", "key.next": "\(next.id)", "key.path": "\(nextFile)"])
    }

    /// The tier uses `next` and no secret of it is under the old key: seal under it,
    /// re-seal the local store, rename the key file. Returns the local secrets re-sealed.
    private func finish(_ next: MasterKey, now: Int64) throws(StoreError) -> Int {
        let old = state.withLock { $0.current }
        // The old key stays in memory for the process's life: a read that fetched a
        // row just before the switch can still open it.
        try shared.hold(Keyring(current: next, others: [old]), reporting: [old.id, next.id])
        let count = local.keyID == next.id ? 0 : try local.rekey(to: next, now: now)
        try Self.swapFiles(nextFile, keyFile)
        state.withLock {
            $0.current = next
            $0.next = nil
        }
        do {
            try shared.hold(Keyring(current: next, others: [old]), reporting: [next.id])
        } catch {
            logger.warning("could not report the retired key to the tier", metadata: ["error": "\(error.message)"])
        }
        logger.notice(
            "tier rekey finished on this node: local store re-sealed, key file replaced; back up the new key",
            metadata: ["key.old": "\(old.id)", "key.new": "\(next.id)", "key.path": "\(keyFile)", "store.secrets": "\(count)"])
        return count
    }
}
