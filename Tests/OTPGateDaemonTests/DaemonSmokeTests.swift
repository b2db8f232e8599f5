import Foundation
import Testing

/// The real otpgated binary, started on a temporary state directory.
@Suite("otpgated smoke")
struct DaemonSmokeTests {
    @Test func startsAnswersHealthAndStopsCleanly() throws {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let binary = URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("otpgated").path
        var template = Array("/tmp/otpgated-smoke-XXXXXX".utf8CString)
        let dir = String(cString: mkdtemp(&template)!)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: binary)
        daemon.arguments = ["--state-dir", dir + "/state"]
        daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        let socketPath = dir + "/state/otpgated.sock"
        var waited = 0
        while !FileManager.default.fileExists(atPath: socketPath) && waited < 100 {
            usleep(50_000)
            waited += 1
        }
        let ask = Process()
        ask.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        ask.arguments = ["-c", """
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
            s.sendall(b'{"v":1,"op":"health","id":"smoke"}\\n'); print(s.makefile().readline(), end="")
            """, socketPath]
        let out = Pipe()
        ask.standardOutput = out
        try ask.run()
        let reply = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ask.waitUntilExit()
        #expect(reply.contains(#""ok":true"#))
        #expect(reply.contains(#""id":"smoke""#))
        daemon.terminate()  // SIGTERM
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: socketPath))
    }
}
