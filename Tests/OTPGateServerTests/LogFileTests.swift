import Foundation
import Logging
@testable import OTPGateServer
import Testing

/// The daemon's own log file (hosts without systemd) and what SIGHUP rereads.
@Suite("Log file and reload")
struct LogFileTests {
    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("otpgate-log-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        return dir
    }

    /// Lines carry an RFC 3339 UTC timestamp with milliseconds, the level, the message
    /// and the sorted, quoted metadata; a new file is created 0640 whatever the umask.
    @Test func linesAreTimestampedAndTheFileIsNotWorldReadable() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let old = umask(0)
        defer { umask(old) }
        let file = try LogFile(path: dir + "/d.log")
        var logger = Logger(label: "t") { _ in FileLogHandler(file: file) }
        logger.logLevel = .info
        logger.notice("authentication", metadata: ["user.name": "a b", "auth.outcome": "accepted"])
        let text = try String(contentsOfFile: dir + "/d.log", encoding: .utf8)
        #expect(text.wholeMatch(of: #/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z notice authentication auth\.outcome=accepted user\.name="a b"\n/#) != nil, "\(text)")
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/d.log")[.posixPermissions] as? Int
        #expect(mode == 0o640)
    }

    /// After a rename (what logrotate does), lines go on into the renamed file until
    /// reopen() (SIGHUP); then into a new file at the path. None is lost. The control
    /// (no reopen) shows that the reopen is what moves them.
    @Test func reopenAfterRenameLosesNoLine() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/d.log"
        let file = try LogFile(path: path)
        file.write("one\n")
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        file.write("two\n")
        #expect(!FileManager.default.fileExists(atPath: path), "control: without reopen nothing writes to the path")
        try file.reopen()
        file.write("three\n")
        #expect(try String(contentsOfFile: path + ".1", encoding: .utf8) == "one\ntwo\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "three\n")
    }

    @Test func anUnwritableLogFileIsAnErrorNamingIt() throws {
        #expect(throws: DaemonError.self) { try LogFile(path: "/nonexistent-dir/d.log") }
        do {
            _ = try LogFile(path: "/nonexistent-dir/d.log")
        } catch {
            #expect(error.message.contains("/nonexistent-dir/d.log"))
        }
    }

    /// SIGHUP names every key set, unset or changed, and none that stayed.
    @Test func changedKeysAreNamed() throws {
        let old = try ConfigFile(parsing: "[policy]\nwindow = 1\nissuer = \"a\"\n[server]\nidle_timeout = 30\n", name: "t")
        let new = try ConfigFile(parsing: "[policy]\nwindow = 2\nissuer = \"a\"\n[limiter]\nbase_delay = 3\n", name: "t")
        #expect(HangupHandler.changedKeys(from: old.values, to: new.values) == ["limiter.base_delay", "policy.window", "server.idle_timeout"])
        #expect(HangupHandler.changedKeys(from: old.values, to: old.values).isEmpty)
    }
}
