import Foundation
import OTPGateTestSupport
import Testing

/// The real otpgated binary, started on a temporary state directory, asked by a
/// client that shares no code with it (python3's socket module).
@Suite("otpgated smoke", .ownThreads)
struct DaemonSmokeTests {
    @Test func startsAnswersHealthAndStopsCleanly() throws {
        let daemon = try DaemonProcess()
        let ask = try Command.run("/usr/bin/python3", ["-c", """
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
            s.sendall(b'{"v":1,"op":"health","id":"smoke"}\\n'); print(s.makefile().readline(), end="")
            """, daemon.socketPath])
        #expect(ask.stdout.contains(#""ok":true"#), daemon.diagnostics())
        #expect(ask.stdout.contains(#""id":"smoke""#))
        #expect(daemon.stop() == 0)  // SIGTERM
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
    }
}
