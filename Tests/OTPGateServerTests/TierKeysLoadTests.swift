import Foundation
import Logging
import OTPGateServer
import OTPGateStore
import Testing

/// What a tier node does with `master.key.next` before its stores open
/// (TierKeys.loadNext); the rekey itself runs in Tests/System/test_tier_rekey.py.
@Suite("Tier keys at start")
struct TierKeysLoadTests {
    struct Node {
        let dir: String
        let current: MasterKey
        var keyFile: String { dir + "/master.key" }
        var nextFile: String { dir + "/master.key.next" }
        var storePath: String { dir + "/store/otpgate.db" }

        /// A key file and a local store sealed under it.
        init() throws {
            var template = Array("/tmp/otpgate-tierkeys-XXXXXX".utf8CString)
            guard let p = mkdtemp(&template) else { throw StoreError(.database, "mkdtemp failed") }
            dir = String(cString: p)
            current = try MasterKey.generate()
            try KeyFile.write(current, to: dir + "/master.key")
            try OTPStore(path: dir + "/store/otpgate.db", key: current, keySource: dir + "/master.key", logger: Logger(label: "test"), now: 0).close()
        }

        func cleanup() { try? FileManager.default.removeItem(atPath: dir) }
        func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
    }

    @Test func noNextKey() throws {
        let n = try Node()
        defer { n.cleanup() }
        let (current, next) = try TierKeys.loadNext(keyFile: n.keyFile, current: n.current, localStorePath: n.storePath)
        #expect(current.id == n.current.id && next == nil)
    }

    @Test func aStagedKeyIsLoadedBesideTheCurrentOne() throws {
        let n = try Node()
        defer { n.cleanup() }
        let staged = try MasterKey.generate()
        try KeyFile.write(staged, to: n.nextFile)
        let (current, next) = try TierKeys.loadNext(keyFile: n.keyFile, current: n.current, localStorePath: n.storePath)
        #expect(current.id == n.current.id && next?.id == staged.id)
        #expect(try n.exists(n.nextFile) && KeyFile.load(path: n.keyFile).id == n.current.id)
    }

    /// A crash after the local store was re-sealed and before the rename: the rename is
    /// done at start (control: the store under the current key leaves both files, above).
    @Test func aLocalStoreAlreadyUnderTheNextKeyFinishesTheRename() throws {
        let n = try Node()
        defer { n.cleanup() }
        let staged = try MasterKey.generate()
        try KeyFile.write(staged, to: n.nextFile)
        let store = try OTPStore(path: n.storePath, key: n.current, keySource: n.keyFile, logger: Logger(label: "test"), now: 0)
        _ = try store.rekey(to: staged, now: 0)
        store.close()
        let (current, next) = try TierKeys.loadNext(keyFile: n.keyFile, current: n.current, localStorePath: n.storePath)
        #expect(current.id == staged.id && next == nil)
        #expect(try !n.exists(n.nextFile) && KeyFile.load(path: n.keyFile).id == staged.id)
    }

    @Test func aNextFileHoldingTheCurrentKeyIsRemoved() throws {
        let n = try Node()
        defer { n.cleanup() }
        try KeyFile.write(n.current, to: n.nextFile)
        let (current, next) = try TierKeys.loadNext(keyFile: n.keyFile, current: n.current, localStorePath: n.storePath)
        #expect(current.id == n.current.id && next == nil && !n.exists(n.nextFile))
    }

    /// A next key that others may read is refused like a key file, naming it; nothing moves.
    @Test func anUnsafeNextFileIsRefused() throws {
        let n = try Node()
        defer { n.cleanup() }
        try KeyFile.write(try MasterKey.generate(), to: n.nextFile)
        chmod(n.nextFile, 0o644)
        do {
            _ = try TierKeys.loadNext(keyFile: n.keyFile, current: n.current, localStorePath: n.storePath)
            Issue.record("a next key readable by others was loaded")
        } catch let error as StoreError {
            #expect(error.code == .keyInvalid && error.message.contains(n.nextFile))
        }
        #expect(try n.exists(n.nextFile) && KeyFile.load(path: n.keyFile).id == n.current.id)
    }
}
