import Foundation
import GRDB
import OTPCore
@testable import OTPGateStore
@testable import OTPGateStoreContract
import OTPGateTestSupport
import Testing

/// Issue 13, items 9 and 11: recovery-code hashes are bound to their user, and a
/// recovery-shaped guess costs the same KDF work whoever it is for.
@Suite("Recovery codes bound to their user", .ownThreads)
struct RecoveryBindingTests {
    let now: Int64 = 1_700_000_000

    @Test func rowsMovedToAnotherUserFail() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let alice = try RecoveryCodeBatch.generate(hasher: .fast, user: "alice")
        let (aliceToken, _) = try f.enroll("alice", recovery: alice)
        _ = try f.enroll("bob")
        // Control: alice's code works for alice before the move.
        #expect(try f.store.consumeRecoveryCode(user: "alice", input: alice.codes[0], now: now) == .accepted(remaining: 9))
        try f.store.pool.write { db in
            let bob = try Int64.fetchOne(db, sql: "SELECT id FROM users WHERE name = 'bob'")!
            try db.execute(sql: "UPDATE recovery_codes SET user_id = ?", arguments: [bob])
            // And a token secret moved the same way, which fails closed.
            try db.execute(sql: "UPDATE tokens SET user_id = ?, name = 'moved' WHERE id = ?", arguments: [bob, aliceToken.id])
        }
        #expect(try f.store.recoveryCodesRemaining(user: "bob") == 9)
        #expect(try f.store.consumeRecoveryCode(user: "bob", input: alice.codes[1], now: now) == .noMatch)
        #expect(try f.store.recoveryCodesRemaining(user: "bob") == 9)
        #expect(throws: StoreError.self) { _ = try f.store.verifiableTokens(user: "bob") }
    }

    @Test func aBatchIsStoredOnlyForItsUser() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice")
        let forBob = try RecoveryCodeBatch.generate(hasher: .fast, user: "bob")
        #expect(throws: StoreError.self) { try f.store.replaceRecoveryCodes(user: "alice", batch: forBob, now: now) }
        #expect(try f.store.recoveryCodesRemaining(user: "alice") == 0)
    }

    /// A store written before the binding: its unbound hashes are converted by the
    /// migration, and still work for their own user only.
    @Test func theMigrationBindsExistingRows() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("otpgate.db")
        let hasher = RecoveryCodeHasher.fast
        let codes = try RecoveryCode.generate(count: 2)
        let salt = try RecoveryCodeHasher.newSalt()
        let queue = try DatabaseQueue(path: path)
        try StoreMigrations.migrator.migrate(queue, upTo: "v1: users, tokens, enrollments, recovery codes, limiter, audit, key check")
        try queue.write { db in
            try db.execute(sql: "INSERT INTO users (id, name, created_at) VALUES (1, 'alice', 0), (2, 'bob', 0)")
            for code in codes {
                let unbound = try hasher.scrypt(normalized: try RecoveryCode.normalize(code), salt: salt)
                try db.execute(
                    sql: "INSERT INTO recovery_codes (user_id, kdf, salt, hash, created_at) VALUES (1, ?, ?, ?, 0)",
                    arguments: [hasher.descriptor, Data(salt), Data(unbound)])
            }
        }
        try queue.close()
        let key = try MasterKey.generate()
        let store = try OTPStore(path: path, key: key, keySource: "test", logger: CapturingLogHandler.logger(), now: now)
        #expect(try store.consumeRecoveryCode(user: "alice", input: codes[0], now: now) == .accepted(remaining: 1))
        try store.pool.write { db in try db.execute(sql: "UPDATE recovery_codes SET user_id = 2") }
        #expect(try store.consumeRecoveryCode(user: "bob", input: codes[1], now: now) == .noMatch)
    }

    /// One scrypt run per recovery-shaped guess for a user with codes, one without,
    /// and one for a name the store does not know (on main: 1, 0, 0).
    @Test func everyUserCostsOneKDFRun() throws {
        // Parameters no other test uses, so the count is this test's alone.
        let hasher = RecoveryCodeHasher(n: 1 << 3, r: 7, p: 1)
        let f = try StoreFixture(hasher: hasher)
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice", recovery: try RecoveryCodeBatch.generate(hasher: hasher, user: "alice"))
        _ = try f.enroll("bob")
        let guess = try RecoveryCode.generate()
        var runs: [String: Int] = [:]
        for user in ["alice", "bob", "nobody"] {
            let before = hasher.runs
            #expect(try f.store.consumeRecoveryCode(user: user, input: guess, now: now) == .noMatch)
            runs[user] = hasher.runs - before
        }
        #expect(runs == ["alice": 1, "bob": 1, "nobody": 1])
    }
}

/// Issue 13, item 4: an enrolment begun without a code cannot add a second token
/// once the user has one.
@Suite("Enrolments begun without a code", .ownThreads)
struct CodelessEnrolmentTests {
    let now: Int64 = 1_700_000_000

    @Test func outrankedByAFirstTokenItFails() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let early = try f.store.beginEnrollment(
            user: "alice", name: "planted", parameters: .standard, secret: try OTPSecret.generate(), now: now, ttl: 600)
        #expect(early.begunWithoutCode)
        #expect(try f.store.pendingEnrollments(user: "alice", now: now).map(\.name) == ["planted"])
        _ = try f.enroll("alice", name: "phone")
        // Begun with a token present (so after a code): confirmable later.
        let later = try f.store.beginEnrollment(
            user: "alice", name: "laptop", parameters: .standard, secret: try OTPSecret.generate(), now: now, ttl: 600)
        #expect(!later.begunWithoutCode)
        #expect(throws: StoreError(.conflict, StoreError.outrankedMessage(user: "alice"))) {
            _ = try f.store.confirmEnrollment(id: early.id, user: "alice", counter: 5, drift: 0, recoveryCodes: nil, now: now)
        }
        #expect(try f.store.tokens(user: "alice").map(\.name) == ["phone"])
        #expect(try f.store.pendingEnrollments(user: "alice", now: now).map(\.name) == ["laptop"], "the outranked one is gone")
        _ = try f.store.confirmEnrollment(id: later.id, user: "alice", counter: 5, drift: 0, recoveryCodes: nil, now: now)
        #expect(try f.store.tokens(user: "alice").map(\.name) == ["phone", "laptop"])
    }
}
