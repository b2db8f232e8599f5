import Foundation
@testable import OTPGateServer
import Testing

/// What a SIGHUP does, called in-process (HangupHandler is a Service, not a channel
/// handler; raising SIGHUP at the test process is not safe before its trap is in):
/// each changed key is named as needing a restart, a broken file leaves the running
/// settings, an unchanged one is said to be so.
struct HangupHandlerTests {
    @Test func reloadNamesChangedKeysAndKeepsTheRunningSettingsOnABrokenFile() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("otpgated.toml")
        let original = "[policy]\nwindow = 1\n"
        try original.write(toFile: path, atomically: true, encoding: .utf8)
        let log = CapturingLog()
        let handler = HangupHandler(
            configPath: path, running: try ConfigFile(parsing: original, name: path), logFile: nil, logger: log.logger)

        handler.reload()
        #expect(log.text.contains("SIGHUP: config \(path) reread; no setting changed"), "\(log.text)")

        try "[policy]\nwindow = 2\n[server]\nidle_timeout = 5\n".write(toFile: path, atomically: true, encoding: .utf8)
        handler.reload()
        let changed = log.lines(containing: "takes effect after a restart")
        #expect(changed.count == 2, "\(changed)")
        #expect(changed.contains { $0.contains("setting policy.window changed") && $0.contains("config.key=policy.window") })
        #expect(changed.contains { $0.contains("setting server.idle_timeout changed") })

        try "[policy]\nwindow = 99\n".write(toFile: path, atomically: true, encoding: .utf8)
        handler.reload()
        #expect(log.text.contains("SIGHUP: config not reloaded, the running settings stay"), "\(log.text)")
        #expect(log.text.contains("policy.window"))
    }

    @Test func withoutAConfigFileOnlyTheLogIsReopened() {
        let log = CapturingLog()
        HangupHandler(configPath: nil, running: nil, logFile: nil, logger: log.logger).reload()
        #expect(log.text.contains("SIGHUP: log reopened; no config file to reload"))
    }
}
