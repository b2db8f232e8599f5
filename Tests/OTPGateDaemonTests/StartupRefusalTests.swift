import Foundation
import Glibc
import OTPGateTestSupport
import Testing

/// A daemon that cannot run safely (wrong or missing key, loose modes, a bad config,
/// a directory in use) refuses to start, at once, with one stderr line that names
/// the file and the fix, and touches nothing.
@Suite("otpgated refuses to start", .ownThreads)
struct StartupRefusalTests {
    /// A daemon whose first run created the key and a store with a user in it.
    static func daemonWithStore() throws -> DaemonProcess {
        let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode())
        _ = try daemon.connectAdmin().enroll(user: "alice")
        #expect(daemon.stop() == 0)
        return daemon
    }

    static func writeKey(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FixtureError("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        fchmod(fd, mode)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw FixtureError("write \(path) failed")
        }
    }

    static func randomKey() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Starts the daemon and expects it to give up within a few seconds with one
    /// stderr line containing `naming` (by default the key file) and `mentioning`.
    static func expectRefusal(
        _ daemon: DaemonProcess, naming: String? = nil, mentioning: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let started = ContinuousClock.now
        try daemon.launch()
        let exited = daemon.waitForExit(timeout: .seconds(10))
        #expect(exited, "still running with a bad key", sourceLocation: sourceLocation)
        guard exited else { return daemon.kill() }
        #expect(ContinuousClock.now - started < .seconds(5), sourceLocation: sourceLocation)
        #expect(!daemon.wasSignalled && daemon.terminationStatus != 0, sourceLocation: sourceLocation)
        let lines = daemon.log.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(daemon.log)", sourceLocation: sourceLocation)
        #expect(lines.first?.contains(naming ?? daemon.keyPath) == true, "stderr: \(daemon.log)", sourceLocation: sourceLocation)
        #expect(lines.first?.contains(mentioning) == true, "stderr: \(daemon.log)", sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath), "no socket for a daemon that did not start",
                sourceLocation: sourceLocation)
    }

    @Test func wrongKeyIsRefused() throws {
        let daemon = try Self.daemonWithStore()
        let original = try Data(contentsOf: URL(fileURLWithPath: daemon.keyPath))
        try Self.writeKey(Self.randomKey(), to: daemon.keyPath)
        try Self.expectRefusal(daemon, mentioning: "restore")

        // Nothing was damaged: with the right key back, alice is still enrolled.
        try Self.writeKey(Array(original), to: daemon.keyPath)
        try daemon.start()
        #expect(daemon.expectOK(try daemon.connectAdmin().call("status", ["user": "alice"])).bool("enrolled") == true)
    }

    @Test func missingKeyWithAnExistingStoreIsRefused() throws {
        let daemon = try Self.daemonWithStore()
        unlink(daemon.keyPath)
        try Self.expectRefusal(daemon, mentioning: "does not exist")
        #expect(!FileManager.default.fileExists(atPath: daemon.keyPath), "no new key may be made for an existing store")
    }

    @Test func keyReadableByOthersIsRefused() throws {
        let daemon = try Self.daemonWithStore()
        chmod(daemon.keyPath, 0o644)
        try Self.expectRefusal(daemon, mentioning: "chmod 600")
    }

    @Test func stateDirectoryWritableByOthersIsRefused() throws {
        let daemon = try Self.daemonWithStore()
        chmod(daemon.stateDirectory, 0o777)
        try Self.expectRefusal(daemon, naming: daemon.stateDirectory, mentioning: "chmod 755")
    }

    @Test func unknownConfigKeyIsRefused() throws {
        let daemon = try DaemonProcess(config: """
            [limiter]
            free_per_usr = 2
            """, start: false)
        try Self.expectRefusal(daemon, naming: daemon.configPath + ":2", mentioning: "free_per_usr")
    }

    @Test func aSecondDaemonOnTheSameDirectoryIsRefused() throws {
        let first = try DaemonProcess()
        let second = try DaemonProcess(start: false, stateDirectory: first.stateDirectory)
        try second.launch()
        #expect(second.waitForExit(timeout: .seconds(10)))
        #expect(!second.wasSignalled && second.terminationStatus == 1)
        // It gets as far as checking the clock, so that warning may come first.
        let refusal = second.log.split(separator: "\n").filter { $0.contains("cannot start") }
        #expect(refusal.count == 1 && refusal[0].contains("another otpgated is already listening on \(first.socketPath)"),
                "stderr: \(second.log)")
        // The first one is undisturbed, its sockets included.
        first.expectServing()
        first.expectOK(try first.connectAdmin().call("health"))
    }

    @Test func filesHaveTheDocumentedModes() throws {
        let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode())
        _ = try daemon.connectAdmin().enroll(user: "alice")
        func mode(_ path: String) -> mode_t? {
            var st = stat()
            return lstat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
        }
        #expect(mode(daemon.stateDirectory) == 0o755)
        #expect(mode(daemon.stateDirectory + "/store") == 0o700)
        #expect(mode(daemon.storePath) == 0o600)
        #expect(mode(daemon.storePath + "-wal") == 0o600)
        #expect(mode(daemon.storePath + "-shm") == 0o600)
        #expect(mode(daemon.keyPath) == 0o600)
        #expect(mode(daemon.socketPath) == 0o666)
        #expect(mode(daemon.adminSocketPath) == 0o600)
    }
}
