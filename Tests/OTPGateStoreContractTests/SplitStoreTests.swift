import Logging
import OTPCore
import OTPGateStore
import OTPGateStoreContract
import OTPGateTestSupport
import Testing

/// A tier node's split: local users' factors live only in the host's store, everyone
/// else's only in the shared one.
@Suite("Split store", .ownThreads)
struct SplitStoreTests {
    @Test func eachUserLivesInExactlyOneStore() throws {
        let local = try ContractBackend.sqlite.make(.standard)
        let shared = try ContractBackend.sqlite.make(.standard)
        defer {
            local.close()
            shared.close()
        }
        let split = ContractStore(store: SplitStore(local: local.store, shared: shared.store) { $0 == "root" }, key: shared.key) {}
        try split.enrolHOTP("root", recovery: true)
        try split.enrolHOTP("alice", recovery: true)

        #expect(try local.store.tokens(user: "root").count == 1)
        #expect(try shared.store.tokens(user: "root").isEmpty)
        #expect(try shared.store.tokens(user: "alice").count == 1)
        #expect(try local.store.tokens(user: "alice").isEmpty)
        // Audit rows follow their user; the list shows both.
        #expect(try local.auditCount("enroll.confirm", user: "root") == 1)
        #expect(try shared.auditCount("enroll.confirm", user: "root") == 0)
        #expect(try shared.auditCount("enroll.confirm", user: "alice") == 1)
        #expect(try split.store.listUsers(now: split.now).map(\.user) == ["alice", "root"])
        // A user-less event goes to the shared log; the merged log holds both halves.
        _ = try split.store.appendAudit(AuditEvent(time: split.now, event: "admin.rekey"))
        #expect(try shared.store.auditEvents(user: nil, since: nil, limit: 100).contains { $0.event == "admin.rekey" })
        let all = try split.store.auditEvents(user: nil, since: nil, limit: 100).map(\.event)
        #expect(all.filter { $0 == "enroll.confirm" }.count == 2)
        // A shared user listed in the local store (say, from before the split) is not
        // shown twice, nor a local one from the shared store.
        try local.enrolHOTP("alice")
        #expect(try split.store.listUsers(now: split.now).map(\.user) == ["alice", "root"])
        #expect(try split.store.tokens(user: "alice").count == 1)
    }

    /// A rekey is refused before anything changes: both stores keep their key.
    @Test func aRekeyIsRefusedAndChangesNothing() throws {
        let local = try ContractBackend.sqlite.make(.standard)
        let shared = try ContractBackend.sqlite.make(.standard)
        defer {
            local.close()
            shared.close()
        }
        let split = SplitStore(local: local.store, shared: shared.store) { $0 == "root" }
        #expect(throws: StoreError.self) { _ = try split.rekey(to: try MasterKey.generate(), now: local.now) }
        #expect(local.store.keyID == local.key.id)
        #expect(shared.store.keyID == shared.key.id)
    }
}
