import OTPCore
@testable import OTPGateStore
import OTPGateTestSupport
import Testing

/// The grace table is kept by the transactions that record outcomes (migration v2).
@Suite("Grace periods", .ownThreads)
struct GraceTests {
    let now: Int64 = 1_700_000_100

    func ok(_ user: String, rhost: String?, uid: Int64 = 0, at time: Int64) -> AuditEvent {
        AuditEvent(time: time, event: "verify.ok", user: user, peerUID: uid, service: "sshd", rhost: rhost, detail: "totp")
    }

    @Test func aRootSuccessFromAHostGrantsAndAFailureFromThatHostClears() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let (token, _) = try f.enroll("alice", counter: 100)
        #expect(try f.store.precheckState(user: "alice", rhost: "192.0.2.7", now: now).graceGrantedAt == nil)

        #expect(
            try f.store.acceptCode(
                user: "alice", tokenID: token.id, counter: 101, drift: 0, rhost: "192.0.2.7", now: now,
                audit: ok("alice", rhost: "192.0.2.7", at: now)) == .accepted)
        let state = try f.store.precheckState(user: "alice", rhost: "192.0.2.7", now: now + 5)
        #expect(state == PrecheckState(enrolled: true, limit: .open, graceGrantedAt: now))
        // Another host, or no host, has no grace.
        #expect(try f.store.precheckState(user: "alice", rhost: "198.51.100.1", now: now).graceGrantedAt == nil)
        #expect(try f.store.precheckState(user: "alice", rhost: nil, now: now).graceGrantedAt == nil)

        // A failure from another host leaves it; from this host clears it.
        _ = try f.store.recordFailure(
            user: "alice", rhost: "198.51.100.1", now: now + 6,
            audit: AuditEvent(time: now + 6, event: "verify.invalid", user: "alice", peerUID: 0, rhost: "198.51.100.1"))
        #expect(try f.store.precheckState(user: "alice", rhost: "192.0.2.7", now: now + 6).graceGrantedAt == now)
        _ = try f.store.recordFailure(
            user: "alice", rhost: "192.0.2.7", now: now + 7,
            audit: AuditEvent(time: now + 7, event: "verify.invalid", user: "alice", peerUID: 0, rhost: "192.0.2.7"))
        #expect(try f.store.precheckState(user: "alice", rhost: "192.0.2.7", now: now + 7).graceGrantedAt == nil)
    }

    @Test func onlyRootWithAHostGrants() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice", counter: 100)
        try f.store.appendAudit(ok("alice", rhost: "192.0.2.7", uid: 1000, at: now))  // the user's own process
        try f.store.appendAudit(ok("alice", rhost: "", at: now))
        try f.store.appendAudit(ok("alice", rhost: nil, at: now))
        #expect(try f.store.precheckState(user: "alice", rhost: "192.0.2.7", now: now).graceGrantedAt == nil)
        // Control: the same event from root does grant.
        try f.store.appendAudit(ok("alice", rhost: "192.0.2.7", at: now))
        #expect(try f.store.precheckState(user: "alice", rhost: "192.0.2.7", now: now).graceGrantedAt == now)
        // A later success moves it forward.
        try f.store.appendAudit(ok("alice", rhost: "192.0.2.7", at: now + 50))
        #expect(try f.store.precheckState(user: "alice", rhost: "192.0.2.7", now: now).graceGrantedAt == now + 50)
    }

    @Test func anAdminResetClears() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice", counter: 100)
        try f.store.appendAudit(ok("alice", rhost: "192.0.2.7", at: now))
        #expect(try f.store.resetUser("alice"))
        _ = try f.enroll("alice", counter: 100)
        #expect(try f.store.precheckState(user: "alice", rhost: "192.0.2.7", now: now).graceGrantedAt == nil)
    }

    @Test func unknownUser() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        #expect(
            try f.store.precheckState(user: "nobody-here", rhost: "h", now: now)
                == PrecheckState(enrolled: false, limit: .open, graceGrantedAt: nil))
    }
}
