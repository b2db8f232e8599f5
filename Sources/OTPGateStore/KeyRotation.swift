internal import Glibc

/// Key rotation that survives a crash at any point.
///
/// `rotate` writes the new key to `KEYFILE.new`, re-encrypts the store in one
/// transaction, then renames `KEYFILE.new` over `KEYFILE`. `loadKey` finishes or
/// discards a rotation that a crash interrupted: if the store's key check names the
/// key in `KEYFILE.new`, the transaction committed and the rename is redone; if not,
/// it never committed and `KEYFILE.new` is removed. Either way one consistent key
/// set remains.
public enum KeyRotation {
    static func pendingPath(_ keyFile: String) -> String { keyFile + ".new" }

    /// The key that opens the store at `storePath`, from `keyFile`.
    public static func loadKey(keyFile: String, storePath: String, owner: UInt32 = KeyFile.currentUID) throws(StoreError) -> MasterKey {
        let pending = pendingPath(keyFile)
        unlink(pending + ".tmp")  // a crash while writing KEYFILE.new leaves only this
        var st = stat()
        let hasPending = lstat(pending, &st) == 0
        let storeExists = lstat(storePath, &st) == 0 && st.st_size > 0
        guard hasPending else { return try KeyFile.load(path: keyFile, owner: owner) }

        let storeKey = storeExists ? try OTPStore.keyID(ofStoreAt: storePath) : nil
        // An unreadable KEYFILE.new (a crash while writing it) was never used: the
        // rekey starts only after it is complete and fsynced.
        if let newKey = try? KeyFile.load(path: pending, owner: owner), let storeKey, storeKey == newKey.id {
            guard rename(pending, keyFile) == 0 else {
                throw StoreError(
                    .keyInvalid,
                    "cannot finish the interrupted key rotation: rename \(pending) to \(keyFile) failed: \(String(cString: strerror(errno)))")
            }
            KeyFile.syncDirectory(of: keyFile)
            return newKey
        }
        unlink(pending)
        KeyFile.syncDirectory(of: keyFile)
        return try KeyFile.load(path: keyFile, owner: owner)
    }

    /// Rotates the key of `store`, whose current key lives in `keyFile`.
    @discardableResult
    public static func rotate(store: any StoreContract, keyFile: String, now: Int64) throws(StoreError) -> MasterKey {
        let newKey = try MasterKey.generate()
        let pending = pendingPath(keyFile)
        // Written to a temporary file and renamed, so KEYFILE.new is whole or absent.
        try KeyFile.write(newKey, to: pending, replace: true)
        do {
            try store.rekey(to: newKey, now: now)
        } catch {
            unlink(pending)
            throw error
        }
        guard rename(pending, keyFile) == 0 else {
            throw StoreError(
                .keyInvalid,
                "the store now uses key \(newKey.id), but renaming \(pending) to \(keyFile) failed (\(String(cString: strerror(errno)))); rename it by hand before restarting")
        }
        KeyFile.syncDirectory(of: keyFile)
        return newKey
    }
}
