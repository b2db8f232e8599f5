import Foundation
import GRDB
import OTPCore
@testable import OTPGateStore
import OTPGateTestSupport
import Synchronization
import Testing

/// Nothing secret may reach an error description or a log line.
@Suite("No secret in errors or logs", .ownThreads)
struct SecrecyTests {
    let now: Int64 = 1_700_000_000

    @Test func errorsAndLogsNeverCarrySecrets() throws {
        let f = try StoreFixture(policy: LimiterPolicy(freePerHost: 1, freePerUser: 1))
        defer { f.dir.cleanup() }
        let batch = try RecoveryCodeBatch.generate(hasher: .fast, user: "alice")
        let (token, secret) = try f.enroll("alice", recovery: batch)
        let code = HOTP.codeString(secret: secret, counter: 101)
        let pendingSecret = try OTPSecret.generate()
        let pending = try f.store.beginEnrollment(user: "alice", name: "spare", parameters: .standard, secret: pendingSecret, now: now, ttl: 60)

        var texts: [String] = []
        func attempt(_ body: () throws -> Void) {
            do { try body() } catch { texts.append(String(describing: error)) }
        }
        // Provoke every failure path we can reach with secret material in hand.
        attempt { _ = try f.store.confirmEnrollment(id: pending.id, user: "alice", counter: 1, drift: 0, recoveryCodes: batch, now: now + 61) }
        attempt { _ = try f.store.acceptCode(user: "alice", tokenID: "nosuchtoken00000", counter: 1, drift: 0, now: now) }
        attempt { _ = try f.reopen(key: try MasterKey.generate()) }
        attempt { _ = try OTPAuthURI(parsing: "otpauth://totp/a?secret=\(Base32.encode(secret))&digits=9") }
        attempt { _ = try OneTimeCode.normalize(code + "x", digits: 6) }
        attempt { _ = try RecoveryCode.normalize(batch.codes[0] + "!") }
        _ = try f.store.recordFailure(user: "alice", now: now)
        _ = try f.store.consumeRecoveryCode(user: "alice", input: batch.codes[1], now: now)
        try f.store.rekey(to: try MasterKey.generate(), now: now)
        // Damage a row and read it back: the decryption error names the row, nothing more.
        try f.store.pool.write { db in
            var sealed = try Data.fetchOne(db, sql: "SELECT secret FROM tokens WHERE id = ?", arguments: [token.id])!
            sealed[sealed.count - 1] ^= 0x80
            try db.execute(sql: "UPDATE tokens SET secret = ? WHERE id = ?", arguments: [sealed, token.id])
        }
        attempt { _ = try f.store.verifiableTokens(user: "alice") }
        texts.append(String(describing: try f.store.pendingEnrollment(id: pending.id, user: "alice", now: now)))
        texts.append(String(describing: batch))
        texts.append(String(describing: OTPAuthURI(parameters: .standard, secret: secret, account: "alice")))

        #expect(texts.count >= 9)
        let logLines = CapturingLogHandler.lines.withLock { $0 }
        #expect(logLines.contains { $0.contains("re-encrypted") })
        let forbidden = [Base32.encode(secret), Base32.encode(pendingSecret), hex(secret), hex(pendingSecret), code]
            + batch.codes + batch.codes.map { $0.replacingOccurrences(of: "-", with: "") }
        for text in texts + logLines {
            for bad in forbidden {
                #expect(!text.contains(bad), "leaked into: \(text)")
            }
        }
    }

    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
