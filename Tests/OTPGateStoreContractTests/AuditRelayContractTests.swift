import OTPCore
import OTPGateStoreContract
import OTPGateTestSupport
import Testing

/// The relay a request came through is stored with every audit row that request
/// writes, on every backend (SQLite migration v8, PostgreSQL v004), and read back by
/// `auditEvents`; a local caller's rows have none; a name that is not a host name is
/// refused and writes nothing.
@Suite("Store contract: the relay in the audit log", .ownThreads)
struct AuditRelayContractTests {
    @Test(arguments: ContractBackend.all)
    func everyAuditedWriteKeepsItsRelay(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        let now = s.now
        let p = try s.store.beginEnrollment(
            user: "rita", name: "key", parameters: try OTPParameters(kind: .hotp), secret: try OTPSecret.generate(),
            initialCounter: 0, now: now, ttl: 300, audit: AuditEvent(time: now, event: "enroll.begin", user: "rita", relay: "relay-a"))
        let (token, _) = try s.store.confirmEnrollment(
            id: p.id, user: "rita", counter: 0, drift: 0, recoveryCodes: nil, now: now,
            audit: { t, _ in AuditEvent(time: now, event: "enroll.confirm", user: "rita", detail: "token \(t.name)", relay: "relay-a") })
        #expect(try s.store.acceptCode(
            user: "rita", tokenID: token.id, counter: 1, drift: 0, rhost: nil, now: now,
            audit: AuditEvent(time: now, event: "verify.ok", user: "rita", peerUID: 0, service: "sshd", relay: "relay-a.example"),
            reservation: nil) == .accepted)
        _ = try s.store.recordFailure(
            user: "rita", rhost: "relay:relay-b/", now: now,
            audit: AuditEvent(time: now, event: "verify.invalid", user: "rita", peerUID: 0, service: "sudo", relay: "relay_B-2"),
            reservation: nil)
        try s.store.recordNotEnrolled(
            user: "nobody-known", rhost: nil, now: now,
            audit: AuditEvent(time: now, event: "verify.not_enrolled", user: "nobody-known", peerUID: 0, relay: "relay-b"),
            reservation: nil)
        _ = try s.store.appendAudit(AuditEvent(time: now, event: "test.forbidden", user: "rita", peerUID: 1000, relay: "relay-b"))
        _ = try s.store.appendAudit(AuditEvent(time: now, event: "test.local", user: "rita", peerUID: 0))
        #expect(try s.store.removeToken(
            user: "rita", tokenID: token.id, audit: AuditEvent(time: now, event: "token.remove", user: "rita", relay: "relay-a")) == 0,
            "rita has no token left")

        let events = try s.store.auditEvents(user: nil, since: nil, limit: 10_000)
        let relays = events.filter { $0.user == "rita" || $0.user == "nobody-known" }.map { "\($0.event)=\($0.relay ?? "-")" }
        #expect(relays == [
            "enroll.begin=relay-a", "enroll.confirm=relay-a", "verify.ok=relay-a.example", "verify.invalid=relay_B-2",
            "verify.not_enrolled=relay-b", "test.forbidden=relay-b", "test.local=-", "token.remove=relay-a",
        ])
        // Control: rows written without a relay (the fixture's) read back with none.
        let (_, _, _) = try s.enrolHOTP("sam")
        #expect(try s.store.auditEvents(user: "sam", since: nil, limit: 100).map(\.relay) == [nil, nil])
    }

    @Test(arguments: ContractBackend.all)
    func aRelayNameThatIsNoHostNameIsRefused(_ backend: ContractBackend) throws {
        let s = try backend.make(.standard)
        defer { s.close() }
        let before = try s.store.auditEvents(user: nil, since: nil, limit: 10_000).count
        for name in ["", "relay a", "relay\nb", "relay/a", "r\u{e9}lay", String(repeating: "r", count: 254)] {
            do {
                _ = try s.store.appendAudit(AuditEvent(time: s.now, event: "test.relay", user: "tom", relay: name))
                Issue.record("relay name \(name.debugDescription) was stored")
            } catch {
                #expect(error.code == .invalidInput, "\(name.debugDescription): \(error)")
            }
        }
        #expect(try s.store.auditEvents(user: nil, since: nil, limit: 10_000).count == before)
        // Control: the longest host name is taken.
        _ = try s.store.appendAudit(AuditEvent(time: s.now, event: "test.relay", user: "tom", relay: String(repeating: "r", count: 253)))
        #expect(try s.store.auditEvents(user: "tom", since: nil, limit: 10).map { $0.relay?.count } == [253])
    }
}
