import OTPCore
import OTPGateStoreContract
import Synchronization
import OTPGateTestSupport
import Testing

/// The store contract, checked the same way on every backend (`ContractBackend.all`).
/// Every call passes the real time, and nothing depends on a wait passing: a backend
/// may keep its own clock.
@Suite("Store contract", .ownThreads)
struct ContractTests {
    @Test(arguments: ContractBackend.all)
    func enrolmentMakesAVerifiableToken(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        #expect(try s.store.tokens(user: "alice").isEmpty)
        let (token, secret, codes) = try s.enrolHOTP("alice", counter: 7, recovery: true)
        #expect(token.watermark == 7)
        #expect(token.parameters.kind == .hotp)
        #expect(try s.store.verifiableTokens(user: "alice").map(\.secret) == [secret])
        #expect(try s.store.recoveryCodesRemaining(user: "alice") == codes.count)
        let context = try s.store.verificationContext(user: "alice", rhost: nil, now: s.now)
        #expect(context.tokens.map(\.info.id) == [token.id])
        #expect(context.recoveryRemaining == codes.count)
        #expect(abs(context.time - s.now) <= 5)
        #expect(try s.auditCount("enroll.confirm", user: "alice") == 1)
        // Another user sees none of it.
        #expect(try s.store.tokens(user: "bob").isEmpty)
        #expect(try s.store.verificationContext(user: "bob", rhost: nil, now: s.now).tokens.isEmpty)
    }

    @Test(arguments: ContractBackend.all)
    func acceptIsCompareAndSet(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        let (token, _, _) = try s.enrolHOTP("alice", counter: 3)
        func accept(_ counter: UInt64) throws -> AcceptResult {
            try s.store.acceptCode(
                user: "alice", tokenID: token.id, counter: counter, drift: 0, rhost: nil, now: s.now,
                audit: AuditEvent(time: s.now, event: "verify.ok", user: "alice"), reservation: nil)
        }
        #expect(try accept(3) == .replayed)  // the confirming code
        #expect(try accept(5) == .accepted)
        #expect(try accept(5) == .replayed)
        #expect(try accept(4) == .replayed)  // the watermark never moves back
        #expect(try s.store.tokens(user: "alice").first?.watermark == 5)
        // Only the accepted code wrote its audit row.
        #expect(try s.auditCount("verify.ok", user: "alice") == 1)
    }

    @Test(arguments: ContractBackend.all)
    func parallelAcceptsOfOneCodeGiveOneOk(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        let (token, _, _) = try s.enrolHOTP("alice")
        for counter in UInt64(1)...5 {
            let oks = together(12) { _ in
                (try? s.store.acceptCode(
                    user: "alice", tokenID: token.id, counter: counter, drift: 0, rhost: nil, now: s.now,
                    audit: AuditEvent(time: s.now, event: "verify.ok", user: "alice"), reservation: nil)) == .accepted
            }
            #expect(oks == 1, "counter \(counter)")
        }
        #expect(try s.auditCount("verify.ok", user: "alice") == 5)
    }

    @Test(arguments: ContractBackend.all)
    func failuresAreCountedExactlyAndLockOutOnce(_ backend: ContractBackend) throws {
        let policy = LimiterPolicy(freePerHost: 1000, freePerUser: 1000, lockoutFailures: 40)
        let s = try backend.make(policy)
        defer { s.close() }
        try s.enrolHOTP("alice")
        let lockouts = together(50) { _ in
            (try? s.store.recordFailure(
                user: "alice", rhost: "10.0.0.1", now: s.now, audit: AuditEvent(time: s.now, event: "verify.invalid", user: "alice"),
                reservation: nil))?.lockedOutNow == true
        }
        #expect(lockouts == 1)
        #expect(try s.store.limitState(user: "alice", rhost: nil, now: s.now) == .lockedOut)
        #expect(try s.store.listUsers(now: s.now).first { $0.user == "alice" }?.failures == 50)
        #expect(try s.auditCount("verify.invalid", user: "alice") == 50)
        if case .admitted = try s.store.reserveAttempt(user: "alice", rhost: nil, now: s.now, context: nil) {
            Issue.record("a locked-out user was admitted")
        }
        #expect(try s.store.unlock(user: "alice", audit: AuditEvent(time: s.now, event: "admin.unlock", user: "alice")))
        #expect(try s.store.limitState(user: "alice", rhost: nil, now: s.now) == .open)
        #expect(try s.auditCount("admin.unlock", user: "alice") == 1)
    }

    /// No more attempts are admitted at once than the policy lets fail.
    @Test(arguments: ContractBackend.all)
    func reservationsAdmitNoMoreThanThePolicy(_ backend: ContractBackend) throws {
        let policy = LimiterPolicy(freePerHost: 3, freePerUser: 10, lockoutFailures: 100)
        let s = try backend.make(policy)
        defer { s.close() }
        try s.enrolHOTP("alice")
        let held = Reservations()
        let admitted = together(20) { _ in
            guard case .admitted(let r) = try? s.store.reserveAttempt(user: "alice", rhost: "10.0.0.9", now: s.now, context: nil) else {
                return false
            }
            held.keep(r)  // still evaluating: none of them has an outcome yet
            return true
        }
        #expect(admitted == 3)
        // Each admitted attempt fails: the host must now wait.
        for r in held.all {
            _ = try s.store.recordFailure(user: "alice", rhost: "10.0.0.9", now: s.now, audit: nil, reservation: r)
        }
        guard case .limited = try s.store.limitState(user: "alice", rhost: "10.0.0.9", now: s.now) else {
            Issue.record("three failures from one host did not make it wait")
            return
        }
    }

    @Test(arguments: ContractBackend.all)
    func recoveryCodesAreUsedOnceAndBoundToTheirUser(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        let (_, _, codes) = try s.enrolHOTP("alice", recovery: true)
        try s.enrolHOTP("bob", recovery: true)
        @Sendable func consume(_ user: String, _ code: String) throws -> RecoveryResult {
            try s.store.consumeRecoveryCode(
                user: user, input: code, rhost: nil, now: s.now, audit: AuditEvent(time: s.now, event: "verify.ok", user: user),
                reservation: nil)
        }
        #expect(try consume("bob", codes[0]) == .noMatch)
        #expect(try consume("alice", codes[0]) == .accepted(remaining: codes.count - 1))
        #expect(try consume("alice", codes[0]) == .noMatch)
        let oks = together(8) { _ in (try? consume("alice", codes[1])) == .accepted(remaining: codes.count - 2) }
        #expect(oks == 1)
        #expect(try s.store.recoveryCodesRemaining(user: "alice") == codes.count - 2)
        #expect(try s.store.recoveryCodesRemaining(user: "bob") == codes.count)
        #expect(try s.auditCount("verify.ok", user: "alice") == 2)
    }

    @Test(arguments: ContractBackend.all)
    func scratchCodesFromAnImportAreUsedOnce(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        let batch = try ScratchCodeBatch.hash(["12345678", "87654321"], user: "carol", hasher: ContractStore.hasher)
        let outcome = try s.store.importTokens(
            user: "carol", tokens: [ImportedToken(name: "ga", parameters: .standard, secret: try OTPSecret.generate())],
            scratchCodes: batch, mode: .add, dryRun: false, now: s.now, audit: nil)
        guard case .imported(let tokens, _, let scratch) = outcome else {
            Issue.record("import did not import: \(outcome)")
            return
        }
        #expect(tokens.count == 1 && scratch == 2)
        #expect(try s.store.scratchCodesRemaining(user: "carol") == 2)
        let first = try s.store.consumeScratchCode(user: "carol", input: "12345678", rhost: nil, now: s.now, audit: nil, reservation: nil)
        #expect(first == .accepted(remaining: 1))
        let again = try s.store.consumeScratchCode(user: "carol", input: "12345678", rhost: nil, now: s.now, audit: nil, reservation: nil)
        #expect(again == .noMatch)
    }

    @Test(arguments: ContractBackend.all)
    func aCodelessEnrolmentIsOutrankedByAFirstToken(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        let early = try s.store.beginEnrollment(
            user: "dave", name: "early", parameters: .standard, secret: try OTPSecret.generate(), initialCounter: 0,
            now: s.now, ttl: 300, audit: nil)
        #expect(early.begunWithoutCode)
        #expect(try s.store.pendingEnrollments(user: "dave", now: s.now).map(\.name) == ["early"])
        try s.enrolHOTP("dave", name: "phone")
        #expect(throws: StoreError(.conflict, StoreError.outrankedMessage(user: "dave"))) {
            _ = try s.store.confirmEnrollment(id: early.id, user: "dave", counter: 1, drift: 0, recoveryCodes: nil, now: s.now, audit: nil)
        }
        #expect(try s.store.tokens(user: "dave").map(\.name) == ["phone"])
    }

    @Test(arguments: ContractBackend.all)
    func cancelRemoveAndReset(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        let p = try s.store.beginEnrollment(
            user: "erin", name: "x", parameters: .standard, secret: try OTPSecret.generate(), initialCounter: 0, now: s.now,
            ttl: 300, audit: nil)
        #expect(try s.store.cancelEnrollment(id: p.id, user: "mallory", audit: nil) == false)
        #expect(try s.store.cancelEnrollment(id: p.id, user: "erin", audit: nil) == true)
        #expect(try s.store.cancelEnrollment(id: p.id, user: "erin", audit: nil) == false)

        let (a, _, _) = try s.enrolHOTP("erin", name: "a", recovery: true)
        try s.enrolHOTP("erin", name: "b")
        #expect(try s.store.removeToken(user: "erin", tokenID: a.id, audit: AuditEvent(time: s.now, event: "token.remove", user: "erin")) == 1)
        #expect(try s.store.recoveryCodesRemaining(user: "erin") > 0)  // one token left: codes stay
        #expect(try s.store.resetUser("erin", audit: AuditEvent(time: s.now, event: "admin.reset", user: "erin")))
        #expect(try s.store.tokens(user: "erin").isEmpty)
        #expect(try s.store.recoveryCodesRemaining(user: "erin") == 0)
        #expect(try s.store.resetUser("nobody-here", audit: nil) == false)
        #expect(try s.auditCount("admin.reset", user: "erin") == 1)
    }

    @Test(arguments: ContractBackend.all)
    func badInputIsRefusedAndChangesNothing(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        let (token, _, _) = try s.enrolHOTP("frank", counter: 2)
        let before = try s.store.auditEvents(user: nil, since: nil, limit: 10_000).count
        for user in ["", String(repeating: "u", count: 300), "a\nb"] {
            #expect(throws: StoreError.self, "user \(user.debugDescription)") {
                _ = try s.store.beginEnrollment(
                    user: user, name: "x", parameters: .standard, secret: try OTPSecret.generate(), initialCounter: 0,
                    now: s.now, ttl: 300, audit: AuditEvent(time: s.now, event: "enroll.begin", user: user))
            }
        }
        // Another user's token id accepts nothing (a refusal or an error, never ok).
        do {
            let other = try s.store.acceptCode(
                user: "grace", tokenID: token.id, counter: 9, drift: 0, rhost: nil, now: s.now,
                audit: AuditEvent(time: s.now, event: "verify.ok", user: "grace"), reservation: nil)
            #expect(other != .accepted)
        } catch {
            #expect(error.code == .notFound)
        }
        #expect(try s.store.tokens(user: "frank").first?.watermark == 2)
        #expect(try s.store.auditEvents(user: nil, since: nil, limit: 10_000).count == before)
    }

    @Test(arguments: ContractBackend.all)
    func auditAppendsInOrderAndFilters(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        let a = try s.store.appendAudit(AuditEvent(time: s.now, event: "test.one", user: "hal", detail: "first"))
        let b = try s.store.appendAudit(AuditEvent(time: s.now, event: "test.two", user: "hal"))
        _ = try s.store.appendAudit(AuditEvent(time: s.now, event: "test.three", user: "ivy"))
        #expect(b > a)
        let hal = try s.store.auditEvents(user: "hal", since: nil, limit: 100)
        #expect(hal.map(\.event) == ["test.one", "test.two"])
        #expect(hal.first?.detail == "first")
        #expect(try s.store.auditEvents(user: nil, since: nil, limit: 1).count == 1)
    }

    /// Not on the split store, which refuses a rekey (it cannot change two stores in
    /// one step: `SplitStore.rekey`); that refusal is checked in SplitStoreTests.
    @Test(arguments: ContractBackend.all.filter { $0.name != "split" })
    func rekeyReSealsEverySecret(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        let (_, secret, _) = try s.enrolHOTP("jay")
        let newKey = try MasterKey.generate()
        #expect(try s.store.rekey(to: newKey, now: s.now) >= 1)
        let byKey = try s.store.sealedSecretsByKey()
        #expect(byKey[newKey.id.description] ?? 0 >= 1)
        #expect(byKey[s.key.id.description] ?? 0 == 0)
        #expect(s.store.keyID == newKey.id)
        #expect(try s.store.verifiableTokens(user: "jay").map(\.secret) == [secret])
    }

    @Test(arguments: ContractBackend.all)
    func listUsersSummarises(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        try s.enrolHOTP("kim", recovery: true)
        try s.enrolHOTP("kim", name: "second")
        let kim = try #require(try s.store.listUsers(now: s.now).first { $0.user == "kim" })
        #expect(kim.tokens == 2)
        #expect(kim.recoveryRemaining == 4)
        #expect(!kim.lockedOut)
    }
}

/// Reservations kept alive by the threads that took them.
final class Reservations: Sendable {
    private let list = Mutex<[AttemptReservation]>([])
    func keep(_ r: AttemptReservation) { list.withLock { $0.append(r) } }
    var all: [AttemptReservation] { list.withLock { $0 } }
}

@Suite("Store contract: retention", .ownThreads)
struct ContractRetentionTests {
    @Test(arguments: ContractBackend.all)
    func pruningAnEmptyLogDeletesNothing(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        _ = try s.store.appendAudit(AuditEvent(time: s.now, event: "test.kept", user: "lee"))
        #expect(try s.store.pruneAudit(maxAge: 86_400, maxEvents: 1_000_000, now: s.now) == 0)
        #expect(try s.store.pruneAudit(maxAge: nil, maxEvents: nil, now: s.now) == 0)
        // Only where no floor keeps the log (the shared store keeps at least a day
        // and 1,000 events: no node may empty it).
        if backend.name != "postgres" {
            #expect(try s.store.pruneAudit(maxAge: nil, maxEvents: 0, now: s.now) == 1)
            #expect(try s.store.auditEvents(user: "lee", since: nil, limit: 10).isEmpty)
        } else {
            #expect(try s.store.pruneAudit(maxAge: nil, maxEvents: 0, now: s.now) == 0)
            #expect(try s.store.auditEvents(user: "lee", since: nil, limit: 10).count == 1)
        }
    }
}
