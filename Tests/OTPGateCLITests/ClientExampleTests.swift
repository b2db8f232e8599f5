import Foundation
import OTPGateClient
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// OTPGateClient used from a separate executable (Tests/ClientExample), as another
/// local service would: a right code exits 0 and says so, anything else is a "no".
@Suite(.ownThreads) struct ClientExampleTests {
    @Test func clientExampleVerifiesACode() async throws {
        let daemon = try await DaemonProcess.started()
        let token = try await daemon.admin.enrol(user: "dave", name: "phone", kind: .hotp)
        let example = Programs.clientExample
        let socket = ["--socket", daemon.socketPath]

        let ok = try await Command.run(example, socket + ["dave", token.code(1)])
        #expect(ok.status == 0 && ok.stdout == "accepted: hotp token phone, 10 recovery codes left\n" && ok.stderr.isEmpty, "\(ok)")

        // The code from standard input; then the same code again, a wrong one, an unknown user.
        let stdin = try await Command.run(example, socket + ["dave"], stdin: token.code(2) + "\n")
        #expect(stdin.status == 0 && stdin.stdout.hasPrefix("accepted: "), "\(stdin)")
        let replay = try await Command.run(example, socket + ["dave", token.code(2)])
        #expect(replay.status == 1 && replay.stdout.isEmpty, "\(replay)")
        #expect(replay.stderr == "otpgate-client-example: refused: that code was already used; wait for the next one\n")
        let wrong = try await Command.run(example, socket + ["dave", token.wrongCode()])
        #expect(wrong.status == 1 && wrong.stderr == "otpgate-client-example: refused: the code is not valid\n", "\(wrong)")
        let stranger = try await Command.run(example, socket + ["nobody", token.code(3)])
        #expect(stranger.status == 1 && stranger.stdout.isEmpty, "\(stranger)")

        // A recovery code, once.
        let recovery = try await Command.run(example, socket + ["--service", "vpn", "dave", token.recoveryCodes[0]])
        #expect(recovery.status == 0 && recovery.stdout == "accepted: recovery, 9 recovery codes left\n", "\(recovery)")
        let audit = try await daemon.admin.audit(user: "dave", limit: 1)
        #expect(audit.events.first?.event == "verify.ok" && audit.events.first?.service == "vpn")

        // No daemon: a "no" of its own kind; a bad command line.
        let down = try await Command.run(example, ["--socket", daemon.directory + "/missing.sock", "dave", token.code(3)])
        #expect(down.status == 3 && down.stdout.isEmpty && down.stderr.hasPrefix("otpgate-client-example: no answer: "), "\(down)")
        let usage = try await Command.run(example, ["--socket"])
        #expect(usage.status == 64 && usage.stdout.isEmpty, "\(usage)")
    }

    /// The library closes each socket once, also when it cannot connect. (It used to
    /// close it a second time from deinit; in a threaded program that closes whatever
    /// another thread opened under the same number meanwhile: here it closed pipes and
    /// daemon connections of parallel tests.) strace shows every close and its result.
    /// The socket file is left behind by a listener that is gone, so the client gets as
    /// far as connect(2), which is refused.
    @Test func aClientThatCannotConnectClosesItsSocketOnce() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("otpgate-cli-strace-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trace = dir + "/trace"
        let stale = dir + "/stale.sock"
        let made = try await Command.run("/usr/bin/python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", stale])
        #expect(made.status == 0, "\(made)")
        let run = try await Command.run(
            "/usr/bin/strace",
            ["-f", "-qq", "-e", "trace=socket,connect,close", "-o", trace, Programs.clientExample, "--socket", stale, "dave", "123456"])
        #expect(run.status == 3 && run.stderr.contains("Connection refused"), "\(run)")
        let calls = try String(contentsOfFile: trace, encoding: .utf8)
        #expect(calls.contains("socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC"), "\(calls)")
        #expect(calls.contains("ECONNREFUSED"), "\(calls)")
        #expect(!calls.contains("EBADF"), "a descriptor was closed twice:\n\(calls)")
    }
}
