import Foundation
import Glibc
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// Issue 13, items 1 and 14: a store that should be there and is not (deleted,
/// truncated, its directory gone) or is an older copy is a refusal to start, not an
/// empty store in which every user is "not enrolled" (which `nullok` turns into
/// password-only logins), nor revived codes. Each refusal names the store and the
/// flag that overrides it; the override is explicit and audited.
@Suite("otpgated refuses a lost or older store", .ownThreads)
struct StoreLossTests {
    static func removeStore(_ daemon: DaemonProcess) {
        for suffix in ["", "-wal", "-shm"] { unlink(daemon.storePath + suffix) }
    }

    static func auditEvents(_ daemon: DaemonProcess, _ event: String) throws -> [JSONValue] {
        let events = try daemon.connectAdmin().call("admin.audit", ["limit": 1000]).array("events") ?? []
        return events.filter { $0["event"]?.stringValue == event }
    }

    @Test func aDeletedStoreIsRefusedAndNotRecreated() throws {
        let daemon = try StartupRefusalTests.daemonWithStore()
        Self.removeStore(daemon)
        try StartupRefusalTests.expectRefusal(daemon, naming: daemon.storePath, mentioning: "--new-store")
        #expect(!FileManager.default.fileExists(atPath: daemon.storePath), "the refusal created a store")

        // The explicit flag starts over, empty, and says so in the audit log.
        daemon.extraArguments = ["--new-store"]
        try daemon.start()
        #expect(daemon.expectOK(try daemon.connectAdmin().call("status", ["user": "alice"])).bool("enrolled") == false)
        #expect(try Self.auditEvents(daemon, "store.created").count == 1)
        #expect(daemon.log.contains("--new-store"), "stderr: \(daemon.log)")
        // Once made, the store is there: the next start needs no flag.
        daemon.extraArguments = []
        try daemon.restart()
    }

    @Test func aTruncatedStoreIsRefused() throws {
        let daemon = try StartupRefusalTests.daemonWithStore()
        Self.removeStore(daemon)
        let fd = open(daemon.storePath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        close(fd)
        try StartupRefusalTests.expectRefusal(daemon, naming: daemon.storePath, mentioning: "--new-store")
        var st = stat()
        #expect(lstat(daemon.storePath, &st) == 0 && st.st_size == 0, "the refusal wrote to the store")
    }

    @Test func aMissingStoreDirectoryIsRefused() throws {
        let daemon = try StartupRefusalTests.daemonWithStore()
        let dir = daemon.stateDirectory + "/store"
        try FileManager.default.removeItem(atPath: dir)
        try StartupRefusalTests.expectRefusal(daemon, naming: daemon.storePath, mentioning: "--new-store")
        #expect(!FileManager.default.fileExists(atPath: dir), "the refusal created the store directory")
    }

    /// Control: a first start (no key yet) still creates key and store by itself.
    @Test func aFirstStartNeedsNoFlag() throws {
        let daemon = try DaemonProcess()
        daemon.expectServing()
        #expect(FileManager.default.fileExists(atPath: daemon.keyPath))
    }

    /// `make install` makes the key first (`--create-key`, as root), then starts the
    /// daemon: the marker it leaves lets that first start create the store. Without
    /// the marker, the same start is refused.
    @Test func aKeyMadeByCreateKeyLetsTheFirstStartCreateTheStore() throws {
        for keepMarker in [true, false] {
            let daemon = try DaemonProcess(start: false)
            let make = try Command.run(DaemonProcess.binary, ["--state-dir", daemon.stateDirectory, "--create-key"])
            #expect(make.status == 0, "\(make)")
            #expect(FileManager.default.fileExists(atPath: daemon.storePath + ".new"))
            if keepMarker {
                try daemon.start()
                #expect(!FileManager.default.fileExists(atPath: daemon.storePath + ".new"), "the marker is used once")
            } else {
                unlink(daemon.storePath + ".new")
                try StartupRefusalTests.expectRefusal(daemon, naming: daemon.storePath, mentioning: "--new-store")
            }
        }
    }

    @Test func aStateDirectoryOwnedByAnotherUserIsRefused() throws {
        let daemon = try StartupRefusalTests.daemonWithStore()
        // Any uid other than root and our own: that user could delete key and store.
        #expect(chown(daemon.stateDirectory, 4242, 4242) == 0)
        try StartupRefusalTests.expectRefusal(daemon, naming: daemon.stateDirectory, mentioning: "owned by uid 4242")
        #expect(chown(daemon.stateDirectory, getuid(), getgid()) == 0)
        try daemon.start()
    }

    @Test func aRestoredOlderStoreIsRefusedUnlessAccepted() throws {
        let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode())
        let token = try daemon.connectAdmin().enroll(user: "alice")
        #expect(daemon.stop() == 0)
        // A backup of the store alone (as a restore of /var/lib/otpgate would bring back).
        let backup = daemon.directory + "/backup"
        try FileManager.default.createDirectory(atPath: backup, withIntermediateDirectories: false)
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: daemon.storePath + suffix) {
            try FileManager.default.copyItem(atPath: daemon.storePath + suffix, toPath: backup + "/db" + suffix)
        }
        try daemon.start()
        let code = token.code(1)
        daemon.expectOK(try daemon.connect().call("verify", ["user": "alice", "code": code]))
        #expect(daemon.stop() == 0)

        Self.removeStore(daemon)
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: backup + "/db" + suffix) {
            try FileManager.default.copyItem(atPath: backup + "/db" + suffix, toPath: daemon.storePath + suffix)
        }
        try StartupRefusalTests.expectRefusal(daemon, naming: daemon.storePath, mentioning: "--accept-rollback")

        // The admin accepts it, once, on the record; the used code is usable again,
        // which is exactly what the refusal warned of.
        daemon.extraArguments = ["--accept-rollback"]
        try daemon.start()
        let accepted = try Self.auditEvents(daemon, "store.rollback_accepted")
        #expect(accepted.count == 1, daemon.diagnostics())
        daemon.expectOK(try daemon.connect().call("verify", ["user": "alice", "code": code]))
        daemon.extraArguments = []
        try daemon.restart()
    }
}
