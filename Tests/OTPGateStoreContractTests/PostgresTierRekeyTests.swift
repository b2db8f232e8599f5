import Foundation
import Logging
import OTPCore
import OTPGatePostgres
import OTPGatePostgresTestSupport
import OTPGateStoreContract
import OTPGateTestSupport
import Testing

/// The PostgreSQL store's side of the rekey across a tier (TierKeyStore), with two
/// stores on one database standing for two nodes: a rekey stopped after its begin is
/// resumed, and a node that still seals under the retired key takes the tier's key.
/// The whole procedure with real daemons is Tests/System/test_tier_rekey.py.
@Suite("PostgreSQL tier rekey", .ownThreads)
struct PostgresTierRekeyTests {
    let logger = Logger(label: "tier-rekey") { _ in SwiftLogNoOpLogHandler() }

    func node(_ settings: PostgresSettings, key: MasterKey, next: MasterKey?) throws -> (PostgresStore, PostgresPool) {
        let pool = try PostgresPool(settings: settings, statements: PostgresStoreStatements.all, logger: logger)
        return (try PostgresStore(pool: pool, key: key, next: next, keySource: "test key", recoveryHasher: ContractStore.hasher, logger: logger), pool)
    }

    func begin(_ store: PostgresStore, _ user: String) throws -> PendingEnrollment {
        try store.beginEnrollment(
            user: user, name: "phone", parameters: .standard, secret: try OTPSecret.generate(), initialCounter: 0, now: 0, ttl: 300,
            audit: nil)
    }

    @Test func aStoppedRekeyIsResumedAndALaggingNodeSealsUnderTheNewKey() throws {
        let (settings, drop) = try ContractPostgres.database(.standard)
        defer { drop() }
        let server = try ContractPostgres.shared.get()
        let old = try MasterKey.generate()
        let new = try MasterKey.generate()
        let (a, poolA) = try node(settings, key: old, next: new)
        defer { poolA.shutdown() }
        let (b, poolB) = try node(settings, key: old, next: new)
        defer { poolB.shutdown() }
        for user in ["u1", "u2", "u3"] { _ = try begin(a, user) }
        #expect(try a.tierKeyState() == TierKeyState(current: old.id.description, previous: nil))

        // Stopped after its begin: the database may not re-seal for this role.
        let replace = "otpgate.rekey_replace(text, text, text, bytea)"
        _ = try server.psql("REVOKE EXECUTE ON FUNCTION \(replace) FROM otpgate_admin", user: "otpgate_owner", database: settings.database)
        #expect(throws: StoreError.self) { _ = try a.rekey(to: new, now: 0) }
        _ = try server.psql("GRANT EXECUTE ON FUNCTION \(replace) TO otpgate_admin", user: "otpgate_owner", database: settings.database)
        #expect(try a.tierKeyState() == TierKeyState(current: new.id.description, previous: old.id.description))
        #expect(try a.sealedSecretsByKey() == [old.id.description: 3])

        // Mid-rekey, node b still seals under the old key (allowed); a new start of
        // node a with the old key alone is refused: it could not open those.
        _ = try begin(b, "u4")
        #expect(try a.sealedSecretsByKey() == [old.id.description: 4])
        let lone = try PostgresPool(settings: settings, statements: PostgresStoreStatements.all, logger: logger)
        defer { lone.shutdown() }
        #expect(throws: StoreError.self) { _ = try PostgresStore(pool: lone, key: new, keySource: "test key", logger: logger) }

        // Resumed: everything under the new key, the old one retired; again: nothing to do.
        #expect(try a.rekey(to: new, now: 0) == 4)
        #expect(try a.tierKeyState() == TierKeyState(current: new.id.description, previous: nil))
        #expect(try a.rekey(to: new, now: 0) == 4)

        // Node b has not seen the finish and seals under the retired key: the database
        // refuses (OG005) and b takes the tier's key. Control: b's keyring without the
        // new key cannot, and the refusal says why.
        let pending = try begin(b, "u5")
        #expect(try b.sealedSecretsByKey() == [new.id.description: 5])
        #expect(try b.pendingEnrollment(id: pending.id, user: "u5", now: 0).id == pending.id)
        try b.hold(Keyring(current: old), reporting: [old.id])
        do {
            _ = try begin(b, "u6")
            Issue.record("a node without the tier's key sealed a secret")
        } catch let error as StoreError {
            #expect(error.code == .keyMismatch && error.message.contains(new.id.description))
        }
    }
}
