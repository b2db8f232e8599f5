import Foundation
import OTPGateClient
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// Every way a command can fail prints one line on stderr, `otpgate: ...`, nothing on
/// stdout, and exits with the status that `otpgate --help` documents.
@Suite(.ownThreads) struct ErrorTests {
    /// Expects exactly `status`, an empty stdout and the one stderr line `line` (or, with
    /// `prefix`, a line starting so).
    static func expectFailure(
        _ run: Command, status: Int32, line: String? = nil, prefix: String = "otpgate: ",
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(run.status == status, "\(run)", sourceLocation: sourceLocation)
        #expect(run.stdout.isEmpty, "\(run)", sourceLocation: sourceLocation)
        #expect(run.stderrLines.count == 1 && run.stderr.hasPrefix(prefix), "one line on stderr: \(run)", sourceLocation: sourceLocation)
        if let line { #expect(run.stderr == line + "\n", sourceLocation: sourceLocation) }
    }

    @Test func helpDocumentsTheExitStatuses() async throws {
        let help = try await Programs.otpgate(["--help"])
        #expect(help.status == 0, "\(help)")
        for row in [
            "0   success", "1   the daemon refused", "2   too many failed attempts", "3   the daemon is unreachable",
            "4   'admin doctor' found a problem", "64  bad command line",
        ] {
            #expect(help.stdout.contains(row), "\(row) in:\n\(help.stdout)")
        }
    }

    @Test func wrongCodeIsRefusedThenRateLimited() async throws {
        let daemon = try await DaemonProcess.started(config: DaemonProcess.oneRecoveryCode("[limiter]\nfree_per_user = 2\nbase_delay = 600\n"))
        let user = try await ThrowawayUser.created()
        defer { user.remove() }
        let token = try await daemon.admin.enrol(user: user.name, name: "phone", kind: .hotp)

        // The code is read from standard input (not a terminal: no prompt).
        let socket = ["--socket", daemon.socketPath]
        let wrong = try await Programs.otpgate(["disable"] + socket, stdin: token.wrongCode() + "\n", as: user)
        Self.expectFailure(wrong, status: 1, line: "otpgate: the code is not valid")
        let regenerate = try await Programs.otpgate(["recovery-codes", "regenerate"] + socket, stdin: token.wrongCode() + "\n", as: user)
        Self.expectFailure(regenerate, status: 1, line: "otpgate: the code is not valid")
        // Two failures: now even the right code is not looked at.
        let limited = try await Programs.otpgate(["token", "remove", "phone"] + socket, stdin: token.code(1) + "\n", as: user)
        Self.expectFailure(limited, status: 2, prefix: "otpgate: too many failed attempts: wait ")
        let status = try await daemon.admin.status(user: user.name)
        #expect(status.enrolled && status.tokens.count == 1 && status.recoveryRemaining == 1, "nothing changed")

        // The admin unlocks; the right code then removes the token.
        let unlock = try await Programs.otpgate(["admin", "unlock", user.name, "--socket", daemon.adminSocketPath])
        #expect(unlock.status == 0 && unlock.stdout == "\(user.name) is unlocked.\n", "\(unlock)")
        let removed = try await Programs.otpgate(["disable"] + socket, stdin: token.code(1) + "\n", as: user)
        #expect(removed.status == 0 && removed.stdout == "Token 'phone' removed; you have no second factor any more.\n", "\(removed)")
    }

    @Test func forbiddenOperationsAreRefused() async throws {
        let daemon = try await DaemonProcess.started(config: DaemonProcess.oneRecoveryCode())
        let user = try await ThrowawayUser.created()
        defer { user.remove() }
        _ = try await daemon.admin.enrol(user: "alice", name: "phone", kind: .hotp)

        // An admin op on the public socket; another user's status; the admin socket itself.
        let list = try await Programs.otpgate(["admin", "list", "--socket", daemon.socketPath], as: user)
        Self.expectFailure(list, status: 1, line: "otpgate: admin.list is only served on the admin socket")
        let other = try await Programs.otpgate(["status", "--user", "alice", "--socket", daemon.socketPath], as: user)
        Self.expectFailure(other, status: 1, line: "otpgate: uid \(user.uid) may only ask about its own user on this socket")
        let admin = try await Programs.otpgate(["admin", "list", "--socket", daemon.adminSocketPath], as: user)
        Self.expectFailure(
            admin, status: 1, line: "otpgate: no permission to connect to \(daemon.adminSocketPath) (the admin socket needs root)")
        let reset = try await Programs.otpgate(["admin", "reset", "alice", "--yes", "--socket", daemon.socketPath], as: user)
        Self.expectFailure(reset, status: 1, line: "otpgate: admin.reset is only served on the admin socket")
        #expect(try await daemon.admin.status(user: "alice").enrolled, "nothing changed")

        // Its own status is fine.
        let own = try await Programs.otpgate(["status", "--socket", daemon.socketPath], as: user)
        #expect(own.status == 0 && own.stdout.hasPrefix("user:               \(user.name)\nenrolled:           no\n"), "\(own)")
    }

    @Test func daemonDownIsExitStatus3() async throws {
        let daemon = try await DaemonProcess.started()
        let missing = daemon.directory + "/missing.sock"
        let status = try await Programs.otpgate(["status", "--socket", missing])
        Self.expectFailure(
            status, status: 3, line: "otpgate: cannot connect to otpgated at \(missing): No such file or directory; is the daemon running?")

        // A daemon that stopped removes its sockets: the same for admin commands.
        await daemon.stop()
        let list = try await Programs.otpgate(["admin", "list", "--socket", daemon.adminSocketPath])
        Self.expectFailure(
            list, status: 3,
            line: "otpgate: cannot connect to otpgated at \(daemon.adminSocketPath): No such file or directory; is the daemon running?")
        let enroll = try await Programs.otpgate(["enroll", "--json", "--socket", daemon.socketPath])
        Self.expectFailure(enroll, status: 3, prefix: "otpgate: cannot connect to otpgated at ")
    }

    @Test(arguments: [
        (["status", "--bogus"], "otpgate: unknown option '--bogus' (see 'otpgate status --help')"),
        (["frobnicate"], "otpgate: unexpected argument 'frobnicate' (see 'otpgate --help')"),
        (["admin", "list", "extra"], "otpgate: unexpected argument 'extra' (see 'otpgate admin list --help')"),
        (["admin", "show"], "otpgate: missing expected argument '<user>' (see 'otpgate admin show --help')"),
        (["enroll", "--digits", "9"], "otpgate: --digits must be 6, 7 or 8 (see 'otpgate enroll start --help')"),
        (["enroll", "--algorithm", "MD5"], "otpgate: --algorithm must be SHA1, SHA256 or SHA512 (see 'otpgate enroll start --help')"),
        (["admin", "audit", "--limit", "0"], "otpgate: --limit must be 1 to 10000 (see 'otpgate admin audit --help')"),
        (["admin", "audit", "--since", "yesterday"],
         "otpgate: --since must be an RFC 3339 UTC time like 2026-11-21T00:00:00Z, or Unix seconds (see 'otpgate admin audit --help')"),
        (["status", "--timeout", "soon"], "otpgate: the value 'soon' is invalid for '--timeout <timeout>' (see 'otpgate status --help')"),
    ])
    func badCommandLinesAreExitStatus64(arguments: [String], line: String) async throws {
        // No daemon: a bad command line is refused before anything is sent. (The root
        // command has no --socket option.)
        let socket = arguments.count > 1 ? ["--socket", "/nonexistent/otpgated.sock"] : []
        let run = try await Programs.otpgate(arguments + socket)
        Self.expectFailure(run, status: 64, line: line)
    }
}
