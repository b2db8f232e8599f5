import Foundation
import GRDB
import Logging
import OTPGateTestSupport
@testable import OTPGateServer
@testable import OTPGateStore
import Testing

/// A store written by a newer otpgate (a migration this binary does not know) is
/// refused when opened, with a message naming the migration, and is left byte for
/// byte as it was; otpgated refuses to start on it (issue 10, item 5).
@Suite("A store from a newer otpgate")
struct NewerStoreTests {
    static let future = "v99: a table from a newer otpgate"

    /// What a newer otpgate would have left: one more applied migration, with its
    /// schema change; then checkpointed, so that the main file holds everything and
    /// the comparison covers the whole store.
    static func makeNewer(_ path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE from_the_future (x INTEGER) STRICT")
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)", arguments: [future])
        }
        try queue.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }

    static func contents(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    static func open(_ path: String, key: MasterKey, keySource: String) throws(StoreError) -> OTPStore {
        try OTPStore(path: path, key: key, keySource: keySource, logger: Logger(label: "test"), recoveryHasher: .fast, now: 1_700_000_000)
    }

    @Test func theStoreRefusesToOpenItAndLeavesItAsItWas() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("store/otpgate.db")
        let key = try MasterKey.generate()
        try KeyFile.write(key, to: dir.file("master.key"))
        do {
            let store = try Self.open(path, key: key, keySource: dir.file("master.key"))
            try store.pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        }
        // Control: the same store, as this version left it, opens again; and an open
        // that is let through does write (so the comparison below can see a write).
        let untouched = try Self.contents(path)
        _ = try Self.open(path, key: key, keySource: dir.file("master.key"))
        #expect(try Self.contents(path) != untouched, "the control open wrote nothing: the comparison proves nothing")

        try Self.makeNewer(path)
        let before = try Self.contents(path)
        let error = #expect(throws: StoreError.self) { try Self.open(path, key: key, keySource: dir.file("master.key")) }
        #expect(error?.code == .storeNewer)
        let message = error?.message ?? ""
        #expect(message.contains("'\(Self.future)'"), "names the unknown migration: \(message)")
        #expect(message.contains("written by a newer otpgate"), "\(message)")
        #expect(message.contains(path), "\(message)")
        #expect(message.contains("'v8: the relay a request came through, in the audit log'"), "says how far this version knows: \(message)")
        #expect(try Self.contents(path) == before, "the refused store is unchanged")
        // And it stays refused: nothing was half-applied by the first try.
        #expect(throws: StoreError.self) { try Self.open(path, key: key, keySource: dir.file("master.key")) }
        #expect(try Self.contents(path) == before)
    }

    /// An older store (fewer migrations, all known) is migrated, not refused: the
    /// refusal is for unknown migrations only.
    @Test func anOlderStoreIsMigratedForward() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.file("store"), withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let path = dir.file("store/otpgate.db")
        do {
            let queue = try DatabaseQueue(path: path)
            try StoreMigrations.migrator.migrate(queue, upTo: "v5: enrolments remember whether they were begun without a code")
        }
        let key = try MasterKey.generate()
        let store = try Self.open(path, key: key, keySource: "test key")
        let applied = try store.pool.read { db in try StoreMigrations.migrator.appliedMigrations(db) }
        #expect(applied == StoreMigrations.migrator.migrations)
    }

    /// otpgated, started on a store a newer otpgate wrote, exits non-zero with the
    /// message, and the store is byte-identical afterwards. Its first start on the
    /// same directory (before the store was made newer) is the control.
    @Test func otpgatedRefusesToStart() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let notify = try NotifySocket(path: dir.file("notify"))
        let state = dir.file("state")
        let store = state + "/store/otpgate.db"

        let first = try ChildProgram(ChildProgram.otpgated, ["--state-dir", state], environment: ["NOTIFY_SOCKET": notify.path])
        #expect(notify.receive(timeout: .seconds(30)) == "READY=1", "the control start did not get ready")
        first.send(signal: SIGTERM)
        #expect(first.wait() == 0, "\(first.stderrText)")

        try Self.makeNewer(store)
        let before = try Self.contents(store)
        let second = try ChildProgram(ChildProgram.otpgated, ["--state-dir", state], environment: ["NOTIFY_SOCKET": notify.path])
        let status = second.wait()
        #expect(status == 1)
        let text = second.stderrText
        #expect(text.contains("otpgated cannot start: the store \(store) was written by a newer otpgate"), "\(text)")
        #expect(text.contains("'\(Self.future)'"), "\(text)")
        #expect(text.contains("(this is otpgated \(RequestHandler.version))"), "\(text)")
        #expect(try Self.contents(store) == before, "the refused store is unchanged")
        #expect(!FileManager.default.fileExists(atPath: state + "/otpgated.sock"), "it never listened")
    }
}
