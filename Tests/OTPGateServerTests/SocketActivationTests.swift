import Foundation
import Glibc
import OTPGateProtocol
import OTPGateTestSupport
@testable import OTPGateServer
import Testing

let systemdSocketActivate = "/usr/bin/systemd-socket-activate"

/// Socket activation for real: systemd-socket-activate (package systemd, in the
/// Makefile's TEST_DEPS) binds both sockets, waits for the first connection, then
/// execs the built otpgated with LISTEN_FDS, LISTEN_FDNAMES and a NOTIFY_SOCKET the
/// test binds. READY=1 arrives, the connection made before the daemon existed is
/// answered, and the sockets it was handed are left in place when it stops.
@Suite("Socket activation", .enabled(if: FileManager.default.isExecutableFile(atPath: systemdSocketActivate)))
struct SocketActivationTests {

    @Test func otpgatedServesTheSocketsItIsHandedAndSaysReady() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let notify = try NotifySocket(path: dir.file("notify"))
        let state = dir.file("state")
        let publicPath = dir.file("pub.sock")
        let adminPath = dir.file("adm.sock")
        // Paths that differ from what --state-dir would bind, so an answer on them
        // can only come through the descriptors handed over.
        let child = try ChildProgram(
            systemdSocketActivate,
            ["-l", publicPath, "-l", adminPath, "--fdname=public:admin", "-E", "NOTIFY_SOCKET=\(notify.path)",
             ChildProgram.otpgated, "--state-dir", state],
            environment: ["SYSTEMD_LOG_TARGET": "console", "SYSTEMD_LOG_LEVEL": "info"])
        #expect(child.waitForErrorLine(containing: "Listening on \(publicPath)"), "\(child.stderrText)")
        #expect(child.waitForErrorLine(containing: "Listening on \(adminPath)"), "\(child.stderrText)")

        // The first connection starts the daemon; it waits in the backlog meanwhile.
        let early = try LineSocket(path: publicPath)
        try early.send(Request(id: "early", payload: .health).line)
        #expect(notify.receive(timeout: .seconds(30)) == "READY=1", "\(child.stderrText)")
        let reply = try Reply.parse(line: Array(try #require(try early.readLine()).utf8))
        #expect(reply.id == "early")
        #expect(try reply.result(HealthResult.self).store == "ok")

        // The admin descriptor is the admin socket: admin ops are served there only.
        let admin = try LineSocket(path: adminPath)
        #expect(try admin.call(Request(payload: .adminList)).isSuccess)
        #expect(try LineSocket(path: publicPath).call(Request(payload: .adminList)).error == .forbidden)
        // It bound nothing of its own.
        #expect(!FileManager.default.fileExists(atPath: state + "/otpgated.sock"))
        #expect(!FileManager.default.fileExists(atPath: state + "/otpgated-admin.sock"))

        child.send(signal: SIGTERM)
        #expect(notify.receive(timeout: .seconds(30)) == "STOPPING=1")
        #expect(child.wait() == 0, "\(child.stderrText)")
        // Handed sockets belong to systemd: not removed.
        #expect(FileManager.default.fileExists(atPath: publicPath))
        #expect(FileManager.default.fileExists(atPath: adminPath))
    }
}
