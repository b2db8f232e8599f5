import Foundation
import Glibc
import OTPGateClient
import OTPGateProtocol
import OTPGateTestSupport
import Synchronization
import Testing

/// The client believes only a daemon whose socket file and process belong to root or
/// the `otpgate` user (as pam_otpgate does), unless told to trust another uid. Each
/// refusal sends nothing; each has a control that differs only in the owner and is
/// answered.
@Suite(.enabled(if: getuid() == 0, "needs root to give files and processes to nobody"))
struct TrustTests {
    static let health = #"{"v":1,"ok":true,"version":"9","uptime":1,"clock_synced":true,"store":"ok"}"#
    static let nobody = getpwnam("nobody")!.pointee.pw_uid

    @Test func aSocketFileOwnedByAnUnprivilegedUserIsRefusedBeforeAnythingIsSent() async throws {
        let daemon = try AnsweringSocket(reply: Self.health)
        let client = OTPGateClient(socketPath: daemon.path, timeout: .seconds(5))
        // Control: owned by root, answered.
        #expect(try await client.health().version == "9")
        #expect(daemon.received.count == 1)

        daemon.chownSocket(to: Self.nobody)
        let error = await #expect(throws: OTPGateClientError.self) { try await client.verify(user: "alice", code: "123456") }
        #expect(error?.code == .untrustedDaemon)
        #expect(error?.message == "\(daemon.path) belongs to uid \(Self.nobody), not to root or otpgate; refusing it")
        #expect(error?.isUnavailable == true)
        #expect(daemon.received.count == 1, "the code was not sent")

        // Trusted explicitly (tests, unprivileged trials): answered again.
        let trusting = OTPGateClient(configuration: .init(socketPath: daemon.path, trustedUIDs: .standard(and: Self.nobody)))
        #expect(try await trusting.health().version == "9")
    }

    /// The socket file belongs to root, but the process that listens runs as nobody:
    /// SO_PEERCRED tells, and the client refuses before writing.
    @Test func aDaemonProcessRunByAnUnprivilegedUserIsRefused() async throws {
        var template = Array("/tmp/otpgate-client-peer-XXXXXX".utf8CString)
        let dir = String(cString: mkdtemp(&template)!)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chown(dir, Self.nobody, UInt32.max)
        chmod(dir, 0o755)
        let path = dir + "/d.sock"
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
            print("ready", flush=True)
            while True:
                c, _ = s.accept()
                line = c.makefile("rb").readline()
                sys.stderr.write("got %d bytes\\n" % len(line)); sys.stderr.flush()
                try:
                    c.sendall(sys.argv[2].encode() + b"\\n")
                except OSError:
                    pass
                c.close()
            """
        let server = try PipedChild(
            "/usr/bin/setpriv",
            ["--reuid=\(Self.nobody)", "--regid=\(Self.nobody)", "--clear-groups", "--", "/usr/bin/python3", "-c", script, path, Self.health])
        // Killed at the end (or by PipedChild's deinit on a failure).
        let ready = try await onThread { server.readLine(timeout: .seconds(30)) }
        #expect(ready == .line(Array("ready".utf8)))
        chown(path, 0, 0)  // only the process is untrusted now

        let client = OTPGateClient(socketPath: path, timeout: .seconds(5))
        let error = await #expect(throws: OTPGateClientError.self) { try await client.health() }
        #expect(error?.code == .untrustedDaemon)
        #expect(error?.message == "the process on \(path) runs as uid \(Self.nobody), not as root or otpgate; refusing it")

        // Control: the same daemon, its uid trusted, answers; and it saw one request only.
        let trusting = OTPGateClient(configuration: .init(socketPath: path, trustedUIDs: .standard(and: Self.nobody)))
        #expect(try await trusting.health().version == "9")
        let log = server.stderrAfterKill()
        let reads = log.split(separator: "\n")
        #expect(reads.count == 2 && reads[0] == "got 0 bytes" && reads[1] != "got 0 bytes", "what the daemon read: \(log)")
    }
}
