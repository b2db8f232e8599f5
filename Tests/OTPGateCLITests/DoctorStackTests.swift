import Foundation
import Glibc
import OTPGateClient
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// The stack table (issue 12, item 6; issue 13, item 6): PAM stacks good and bad, each
/// in a private confdir, with what `otpgate admin doctor` must say, file and line; and
/// for each, a real login through libpam (pam_start_confdir), the real module and a
/// real daemon, as a throwaway user with a password: with a wrong code, and with the
/// right one. Every stack doctor calls safe must refuse the wrong code; the unsafe rows
/// show the hole doctor names.
@Suite(.serialized, .ownThreadsUnqueued) struct DoctorStackTests {
    static let rows: [DoctorStack] = [
        // The code mandatory: required, requisite, and bracket forms equal to them.
        .init("required", "@include common-auth\nauth required MODULE socket=SOCKET\n",
              .safe(at: "sudo:2", saying: "a code is mandatory after the password (pam_unix.so at CONFDIR/common-auth:1)")),
        .init("requisite, nullok", "@include common-auth\nauth requisite MODULE socket=SOCKET nullok\n",
              .safe(at: "sudo:2", saying: "nullok: a user without a token (and not in policy.required_groups) is not asked for a code and logs in with the password alone")),
        .init("bracket form of required", "@include common-auth\nauth [success=ok new_authtok_reqd=ok ignore=ignore default=bad] MODULE socket=SOCKET\n",
              .safe(at: "sudo:2", saying: "a code is mandatory")),
        .init("bracket form of requisite, continued line", "@include common-auth\nauth [success=ok ignore=ignore \\\n  default=die] MODULE socket=SOCKET\n",
              .safe(at: "sudo:2", saying: "a code is mandatory")),
        .init("include, and a type with '-'", "auth include common-auth\n-auth required MODULE socket=SOCKET\n",
              .safe(at: "sudo:2", saying: "a code is mandatory after the password (pam_unix.so at CONFDIR/common-auth:1)")),
        .init("substack", "auth substack common-auth\nauth required MODULE socket=SOCKET debug\n",
              .safe(at: "sudo:2", saying: "a code is mandatory after the password")),
        // Debian's own pattern: a jump over pam_deny on success; a wrong code is
        // ignored, but pam_deny then fails the stack. Safe, though it looks like the
        // unsafe row below: doctor walks the stack rather than matching words.
        .init("[success=1 default=ignore] before pam_deny", "@include common-auth\nauth [success=1 default=ignore] MODULE socket=SOCKET\nauth requisite pam_deny.so\nauth required pam_permit.so\n",
              .safe(at: "sudo:2", saying: "a code is mandatory")),

        // The code not mandatory.
        .init("sufficient (issue 12's sudo)", "@include common-auth\nauth sufficient MODULE socket=SOCKET nullok\n",
              .unsafe(at: "sudo:2", saying: "a wrong code is ignored"), wrongCodeLogsIn: true),
        .init("optional", "@include common-auth\nauth optional MODULE socket=SOCKET\n",
              .unsafe(at: "sudo:2", saying: "a wrong code is ignored"), wrongCodeLogsIn: true),
        // The jump runs past the end on success (libpam: bad jump), so the right code
        // fails and a wrong one is ignored.
        .init("[success=1 default=ignore]", "@include common-auth\nauth [success=1 default=ignore] MODULE socket=SOCKET\n",
              .unsafe(at: "sudo:2", saying: "a wrong code is ignored"), wrongCodeLogsIn: true, rightCodeLogsIn: false),
        .init("[default=ignore]", "@include common-auth\nauth [default=ignore] MODULE socket=SOCKET\n",
              .unsafe(at: "sudo:2", saying: "a wrong code is ignored"), wrongCodeLogsIn: true),
        .init("sufficient pam_rootok before it", "auth sufficient pam_rootok.so\n@include common-auth\nauth required MODULE socket=SOCKET\n",
              .unsafe(at: "sudo:1", saying: "'auth sufficient pam_rootok.so' ends the stack with success when it returns success: a login succeeds without a code"),
              wrongCodeLogsIn: true),
        .init("a reset after it", "@include common-auth\nauth required MODULE socket=SOCKET\nauth [default=reset] pam_permit.so\nauth required pam_permit.so\n",
              .unsafe(at: "sudo:3", saying: "resets the stack after pam_otpgate failed"), wrongCodeLogsIn: true),

        // Mandatory, but wrong.
        .init("typo'd option", "@include common-auth\nauth required MODULE socket=SOCKET nulok\n",
              .unsafe(at: "sudo:2", saying: "option 'nulok': unknown option, the module ignores it\n      fix: did you mean 'nullok'?")),
        .init("timeout out of range", "@include common-auth\nauth required MODULE socket=SOCKET timeout=0\n",
              .unsafe(at: "sudo:2", saying: "option 'timeout=0': the module ignores it (timeout= takes whole seconds, 1 to 60) and waits 5 s")),
        .init("wrong socket", "@include common-auth\nauth required MODULE socket=/run/otpgate-elsewhere/otpgated.sock\n",
              .unsafe(at: "sudo:2", saying: "the module asks /run/otpgate-elsewhere/otpgated.sock, but the daemon listens on SOCKET; every login fails\n      fix: socket=SOCKET"),
              rightCodeLogsIn: false),
        .init("before common-auth", "auth required MODULE socket=SOCKET\n@include common-auth\n",
              .unsafe(at: "sudo:1", saying: "comes before the password (pam_unix.so at CONFDIR/common-auth:1): anyone who reaches the prompt can guess codes")),
        .init("missing include", "@include common-auth-local\nauth required MODULE socket=SOCKET\n",
              .unsafe(at: "sudo:1", saying: "cannot read CONFDIR/common-auth-local; PAM fails every login through this stack"), rightCodeLogsIn: false),

        // sshd: the PAM stack and sshd -T together.
        .init("sshd: README recipe with common-auth", service: "sshd", "@include common-auth\nauth required MODULE socket=SOCKET nullok\n", sshd: DoctorStack.recipe,
              .safe(at: "sshd_config:3", saying: "sshd: every AuthenticationMethods alternative that reaches PAM asks for the code")),
        .init("sshd: key and code, no password", service: "sshd", "auth required MODULE socket=SOCKET\n",
              sshd: "UsePAM yes\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive:pam\n",
              .safe(at: "sshd_config:3", saying: "sshd: every AuthenticationMethods alternative that reaches PAM asks for the code")),
        // Issue 13.6: the old recipe's "comment out common-auth" with its second
        // alternative. Through PAM the code alone logs in: no password is asked.
        .init("sshd: code-only login", service: "sshd", "# @include common-auth\nauth required MODULE socket=SOCKET nullok\n", sshd: DoctorStack.recipe,
              .unsafe(at: "sshd_config:3", saying: "sshd: AuthenticationMethods alternative 'keyboard-interactive:pam' with no password in CONFDIR/sshd: anyone on the network logs in with a one-time code alone")),
        .init("sshd: without keyboard-interactive", service: "sshd", "@include common-auth\nauth required MODULE socket=SOCKET\n",
              sshd: "UsePAM yes\nKbdInteractiveAuthentication no\n",
              .unsafe(at: "sshd_config:2", saying: "sshd: KbdInteractiveAuthentication no: sshd never asks pam_otpgate's question; key logins skip the code")),
        .init("sshd: UsePAM no", service: "sshd", "@include common-auth\nauth required MODULE socket=SOCKET\n",
              sshd: "UsePAM no\nKbdInteractiveAuthentication yes\n",
              .unsafe(at: "sshd_config:1", saying: "sshd: UsePAM no: sshd never runs CONFDIR/sshd, so it never asks for a code")),
    ]

    /// sshd -T needs sshd's privilege separation directory: made if the machine has
    /// none (as sshd's unit would), and left, because an sshd another test runs at the
    /// same time needs it too.
    @Test func theStackTable() async throws {
        try await PAMBuild.built.value
        mkdir("/run/sshd", 0o755)
        // One daemon; each row has its own user, token and confdir. Four rows at a
        // time: a row is mostly short programs (useradd, doctor, chpasswd, the PAM
        // driver, which sets PAM_FAIL_DELAY so no fail delay is slept) and fsyncs.
        // Tokens are imported, not enrolled: an enrolment's recovery codes cost a slow
        // KDF hash, and a test of PAM stacks needs none.
        let daemon = try await DaemonProcess.started(owner: DoctorTests.daemonOwner)
        let config = daemon.directory + "/doctor.toml"
        try """
            [paths]
            state_dir = "\(daemon.stateDirectory)/store"
            key_file = "\(daemon.keyPath)"
            socket = "\(daemon.socketPath)"
            admin_socket = "\(daemon.adminSocketPath)"
            """.write(toFile: config, atomically: true, encoding: .utf8)
        await withTaskGroup(of: Void.self) { group in
            var pending = Self.rows.enumerated()[...]
            func next() {
                guard let (n, row) = pending.popFirst() else { return }
                group.addTask {
                    do {
                        try await Self.check(row, daemon: daemon, config: config, directory: daemon.directory + "/row\(n)")
                    } catch {
                        Issue.record("\(row): \(error)")
                    }
                }
            }
            for _ in 0..<4 { next() }
            while await group.next() != nil { next() }
        }
        await daemon.stop()
    }

    static func check(_ row: DoctorStack, daemon: DaemonProcess, config: String, directory: String) async throws {
        let user = try await ThrowawayUser.created()
        defer { user.remove() }
        // Long waits: on a loaded machine an fsync can take seconds.
        let admin = OTPGateClient(socketPath: daemon.adminSocketPath, timeout: .seconds(60))
        let token = try await admin.importHOTP(user: user.name)

        let confdir = directory + "/pam.d"
        try FileManager.default.createDirectory(atPath: confdir, withIntermediateDirectories: true)
        try DoctorStack.commonAuth.write(toFile: confdir + "/common-auth", atomically: true, encoding: .utf8)
        try "auth required pam_deny.so\n".write(toFile: confdir + "/other", atomically: true, encoding: .utf8)
        let stack = row.stack.replacing("MODULE", with: PAMBuild.module)
            .replacing("socket=SOCKET", with: "socket=\(daemon.socketPath) timeout=30")
        try stack.write(toFile: confdir + "/" + row.service, atomically: true, encoding: .utf8)
        var arguments = ["admin", "doctor", "--timeout", "60", "--config", config, "--pam-directory", confdir, "--service", row.service]
        if let sshd = row.sshdConfig {
            try sshd.write(toFile: directory + "/sshd_config", atomically: true, encoding: .utf8)
            arguments += ["--sshd-config", directory + "/sshd_config"]
        }

        let doctor = try await Programs.otpgate(arguments)
        func expand(_ text: String) -> String {
            text.replacing("CONFDIR", with: confdir).replacing("SOCKET", with: daemon.socketPath)
        }
        let place = { (at: String) in (at.hasPrefix("sshd_config") ? directory : confdir) + "/" + at + ": " }
        // Each finding: its line and the fix line under it.
        let findings = doctor.stdout.split(separator: "\n").reduce(into: [String]()) { all, line in
            if line.hasPrefix("      "), !all.isEmpty { all[all.count - 1] += "\n" + line } else { all.append(String(line)) }
        }
        switch row.verdict {
        case .safe(let at, let saying):
            #expect(doctor.status == 0 && !doctor.stdout.contains("FAIL"), "\(row): doctor must call it safe\n\(doctor)")
            #expect(findings.contains { $0.hasPrefix("ok    " + place(at)) && $0.contains(expand(saying)) },
                    "\(row): an ok line at \(at) saying: \(expand(saying))\n\(doctor.stdout)")
        case .unsafe(let at, let saying):
            #expect(doctor.status == 4 && doctor.stderr.isEmpty, "\(row): doctor must exit 4\n\(doctor)")
            #expect(findings.contains { $0.hasPrefix("FAIL  " + place(at)) && $0.contains(expand(saying)) },
                    "\(row): a FAIL line at \(at) saying: \(expand(saying))\n\(doctor.stdout)")
        }

        // The real login: the right password, then a wrong code; then the right code.
        let wrong = try await PAMBuild.login(confdir: confdir, service: row.service, user: user.name, code: token.wrongCode())
        let right = try await PAMBuild.login(confdir: confdir, service: row.service, user: user.name, code: token.code(1))
        if doctor.status == 0 {
            #expect(wrong != "PAM_SUCCESS", "\(row): doctor called it safe, and a wrong code logged in")
        }
        #expect((wrong == "PAM_SUCCESS") == row.wrongCodeLogsIn, "\(row): wrong code: \(wrong)")
        #expect((right == "PAM_SUCCESS") == row.rightCodeLogsIn, "\(row): right code: \(right)")
    }
}
