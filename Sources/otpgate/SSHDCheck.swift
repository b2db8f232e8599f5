/// Whether sshd runs the `sshd` PAM stack for every way to log in, and whether one
/// of those ways is a code alone (issue 13.6: AuthenticationMethods with a bare
/// `keyboard-interactive:pam` while the sshd stack asks no password).
struct SSHDCheck {
    private(set) var findings: [DoctorFinding] = []

    init(_ sshd: SSHDSettings, stack: PAMServiceCheck) {
        let file = sshd.configFile
        func add(_ level: DoctorFinding.Level, _ key: String, _ what: String, fix: String? = nil) {
            findings.append(DoctorFinding(level, what, fix: fix, file: file, line: sshd.line(of: key)))
        }
        // A stack without pam_otpgate was named by PAMServiceCheck already.
        guard stack.usesOTPGate else { return }
        let before = findings.count
        if !sshd.yes("usepam") {
            add(.fail, "usepam", "sshd: UsePAM \(sshd.values["usepam"] ?? "no"): sshd never runs \(stack.file), so it never asks for a code", fix: "set 'UsePAM yes'")
            return
        }
        if !sshd.yes("kbdinteractiveauthentication") {
            add(.fail, "kbdinteractiveauthentication",
                "sshd: KbdInteractiveAuthentication \(sshd.values["kbdinteractiveauthentication"] ?? "no"): sshd never asks pam_otpgate's question; key logins skip the code",
                fix: "set 'KbdInteractiveAuthentication yes'")
        }
        let codeOnlyFix = "start every alternative with publickey ('AuthenticationMethods publickey,keyboard-interactive:pam'), or keep '@include common-auth' in \(stack.file) so the password is asked too"
        for alternative in sshd.alternatives where alternative.allSatisfy(sshd.offers) {
            let shown = alternative.joined(separator: ",")
            let otherFactor = alternative.contains { ["publickey", "hostbased", "gssapi-with-mic"].contains($0) }
            // keyboard-interactive reaches PAM unless another device is named.
            let asks = alternative.contains { $0 == "keyboard-interactive" || $0 == "keyboard-interactive:pam" }
            // With UsePAM, sshd checks a password through the same stack, answering
            // every prompt with the password: the code prompt too.
            let viaPassword = alternative.contains("password")
            if !asks && !viaPassword {
                add(.warn, "authenticationmethods", "sshd: AuthenticationMethods alternative '\(shown)' logs in without a code",
                    fix: "require the code after the key: 'AuthenticationMethods publickey,keyboard-interactive:pam'")
            } else if !otherFactor && !stack.passwordMandatory {
                let how = asks ? "a one-time code alone" : "a one-time code typed as the password"
                add(.fail, "authenticationmethods",
                    "sshd: AuthenticationMethods alternative '\(shown)' with no password in \(stack.file): anyone on the network logs in with \(how) (and can lock the user out)",
                    fix: codeOnlyFix)
            } else if !asks {
                add(.warn, "authenticationmethods",
                    "sshd: AuthenticationMethods alternative '\(shown)': sshd answers the code prompt with the password, so these logins fail",
                    fix: "use keyboard-interactive:pam instead of password")
            }
        }
        if sshd.hasMatchBlocks {
            add(.warn, "match", "sshd: Match blocks are not evaluated here; they may change AuthenticationMethods for some users",
                fix: "check each with 'sshd -T -C user=NAME,host=HOST,addr=ADDR'")
        }
        if !findings[before...].contains(where: { $0.level == .fail }) && stack.codeMandatory {
            add(.ok, "authenticationmethods", "sshd: every AuthenticationMethods alternative that reaches PAM asks for the code"
                + (sshd.values["authenticationmethods"].map { " (\($0))" } ?? ""))
        }
    }
}
