import Foundation
import OTPCore
@testable import OTPGateStore
import OTPGateTestSupport
import Testing

@Suite("Rekey", .ownThreads)
struct RekeyTests {
    let now: Int64 = 1_700_000_000

    @Test func everySecretReadableAndNoneUnderTheOldKey() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        var secrets: [String: [UInt8]] = [:]
        for i in 0..<30 { secrets["u\(i)"] = try f.enroll("u\(i)").secret }
        let pendingSecret = try OTPSecret.generate()
        let pending = try f.store.beginEnrollment(user: "late", name: "phone", parameters: .standard, secret: pendingSecret, now: now, ttl: 600)
        let oldID = f.key.id

        let newKey = try MasterKey.generate()
        #expect(try f.store.rekey(to: newKey, now: now) == 31)
        #expect(try f.store.sealedSecretsByKey() == [newKey.id.description: 31])
        #expect(f.store.keyID == newKey.id)
        for (user, secret) in secrets {
            #expect(try f.store.verifiableTokens(user: user).first?.secret == secret)
        }
        #expect(try f.store.pendingEnrollment(id: pending.id, user: "late", now: now).secret == pendingSecret)

        // A fresh process needs the new key, and refuses the old one.
        let reopened = try f.reopen(key: newKey)
        #expect(try reopened.verifiableTokens(user: "u7").first?.secret == secrets["u7"])
        do {
            _ = try f.reopen(key: f.key)
            Issue.record("the old key still opens the store")
        } catch {
            #expect(error.code == .keyMismatch)
            #expect(error.message.contains(oldID.description))
        }
    }

    @Test func rotationReplacesTheKeyFile() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let secret = try f.enroll("alice").secret
        let newKey = try KeyRotation.rotate(store: f.store, keyFile: f.keyPath, now: now)
        #expect(try KeyFile.load(path: f.keyPath).id == newKey.id)
        #expect(!FileManager.default.fileExists(atPath: f.keyPath + ".new"))
        let loaded = try KeyRotation.loadKey(keyFile: f.keyPath, storePath: f.dbPath)
        #expect(try f.reopen(key: loaded).verifiableTokens(user: "alice").first?.secret == secret)
    }

    @Test func leftoverPendingKeyIsResolvedBothWays() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice")
        // A crash before the rekey committed: the store still uses the old key.
        try KeyFile.write(try MasterKey.generate(), to: f.keyPath + ".new")
        #expect(try KeyRotation.loadKey(keyFile: f.keyPath, storePath: f.dbPath).id == f.key.id)
        #expect(!FileManager.default.fileExists(atPath: f.keyPath + ".new"))
        // A crash after the commit, before the rename: the new key is promoted.
        let newKey = try MasterKey.generate()
        try KeyFile.write(newKey, to: f.keyPath + ".new")
        try f.store.rekey(to: newKey, now: now)
        #expect(try KeyRotation.loadKey(keyFile: f.keyPath, storePath: f.dbPath).id == newKey.id)
        #expect(try KeyFile.load(path: f.keyPath).id == newKey.id)
        #expect(!FileManager.default.fileExists(atPath: f.keyPath + ".new"))
    }

    /// Kill a rotating process at different moments: afterwards the store always opens
    /// with one key, which seals every secret.
    @Test func crashDuringRotationLeavesOneConsistentKeySet() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let populate = try harness(["populate", f.dbPath, f.keyPath, "400"])
        #expect(populate.readLine() == "populated")
        #expect(populate.wait() == 0)

        var outcomes: [String] = []
        for delay in [0, 2_000, 5_000, 10_000, 20_000, 40_000, 80_000, 400_000] {
            let child = try harness(["rotate", f.dbPath, f.keyPath])
            #expect(child.readLine() == "rotating")
            usleep(useconds_t(delay))
            child.kill()
            let key = try KeyRotation.loadKey(keyFile: f.keyPath, storePath: f.dbPath)
            let store = try f.reopen(key: key)
            let byKey = try store.sealedSecretsByKey()
            #expect(byKey == [key.id.description: 400], "after \(delay) µs: \(byKey)")
            for u in stride(from: 0, to: 400, by: 37) {
                #expect(try store.verifiableTokens(user: "user\(u)").count == 1)
            }
            #expect(!FileManager.default.fileExists(atPath: f.keyPath + ".new"))
            outcomes.append(key.id.description)
        }
        print("key ids after each kill: \(outcomes)")
    }
}
