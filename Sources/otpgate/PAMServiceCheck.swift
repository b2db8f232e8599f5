import Foundation

/// Whether one PAM service's `auth` stack makes the code mandatory: the control of
/// every pam_otpgate line, every way through the stack (PAMStackEvaluator), the order
/// against the password module, the module's options and its socket.
struct PAMServiceCheck {
    let service: String
    let file: String
    private(set) var findings: [DoctorFinding] = []
    /// For the sshd check: the stack has a pam_otpgate line ...
    private(set) var usesOTPGate = false
    /// ... that no way to success gets around ...
    private(set) var codeMandatory = false
    /// ... and no way to success skips the password.
    private(set) var passwordMandatory = false
    /// Each pam_otpgate line's timeout, in seconds, with where it is.
    private(set) var moduleTimeouts: [(place: String, seconds: Int)] = []

    /// Where libpam looks for a module named without a path.
    static var moduleDirectories: [String] {
        #if arch(x86_64)
        let triplet = "x86_64-linux-gnu"
        #elseif arch(arm64)
        let triplet = "aarch64-linux-gnu"
        #else
        let triplet = "unknown"
        #endif
        return ["/lib/\(triplet)/security", "/usr/lib/\(triplet)/security", "/lib64/security", "/usr/lib64/security", "/lib/security", "/usr/lib/security"]
    }

    /// `sshd`: whether this is sshd's service, whose lack of a password module the
    /// sshd check judges (a key may be the other factor).
    init(directory: String, service: String, daemonSocket: String, sshd: Bool = false) {
        self.service = service
        var reader = PAMStackReader(directory: directory)
        file = reader.path(service)
        guard reader.read(service) else {
            findings.append(DoctorFinding(.warn, "\(file) not found (PAM uses \(reader.path("other")) for \(service))"))
            return
        }
        for p in reader.problems { findings.append(DoctorFinding(.fail, p.what, fix: p.fix, file: p.file, line: p.line)) }
        let rules = reader.rules
        guard let first = rules.firstIndex(where: \.isOTPGate) else {
            findings.append(DoctorFinding(.warn, "\(file) does not use pam_otpgate", fix: "add 'auth required pam_otpgate.so nullok' after '@include common-auth'"))
            return
        }
        usesOTPGate = true
        moduleTimeouts = rules.filter(\.isOTPGate).map { ("\($0.file):\($0.line)", OTPGateModuleOptions($0.arguments).timeout) }
        let exists: (PAMRule) -> Bool = { rule in
            guard case .module(let path, _) = rule.kind else { return true }
            if path.hasPrefix("/") { return FileManager.default.fileExists(atPath: path) }
            return Self.moduleDirectories.contains { FileManager.default.fileExists(atPath: $0 + "/" + path) }
        }
        let evaluation = PAMStackEvaluator(rules: rules, moduleExists: exists)
        let passwordIndex = rules.firstIndex(where: \.checksPassword)
        let password = passwordIndex.map { rules[$0] }
        passwordMandatory = password != nil && evaluation.complete && evaluation.successes.allSatisfy { $0.passwordChecked(in: rules) }

        for (index, rule) in rules.enumerated() where rule.isOTPGate {
            checkLine(rule, index: index, exists: exists(rule), password: passwordIndex.map { ($0, rules[$0]) }, daemonSocket: daemonSocket)
        }
        checkWays(rules, evaluation)
        if !evaluation.complete {
            fail(rules[first], "more ways through this stack than doctor explores (\(PAMStackEvaluator.limit)); it cannot show that the code is mandatory",
                 fix: "simplify the auth stack", level: .warn)
        }
        if evaluation.successes.isEmpty && evaluation.complete {
            fail(rules[first], "no way through this stack ends in success: every login through \(service) fails", fix: "see the other findings for this file")
        }
        if password == nil && !sshd {
            fail(rules[first], "no password module in this stack: the code alone authenticates for \(service)",
                 fix: "add '@include common-auth' before this line", level: .warn)
        }

        codeMandatory = !findings.contains { $0.level == .fail }
        guard codeMandatory else { return }
        let line = rules[first]
        let options = OTPGateModuleOptions(line.arguments)
        var after = ""
        if let passwordIndex {
            let place = "\(rules[passwordIndex].moduleName ?? "") at \(rules[passwordIndex].location)"
            after = passwordIndex < first ? " after the password (\(place))" : " with the password (forward_pass, for \(place))"
        }
        findings.append(DoctorFinding(.ok, "'\(line.text)': a code is mandatory\(after)", file: line.file, line: line.line))
        if options.has("nullok") {
            findings.append(DoctorFinding(.ok, "nullok: a user without a token (and not in policy.required_groups) is not asked for a code and "
                + (passwordMandatory ? "logs in with the password alone" : "needs only what the rest of the stack asks"),
                file: line.file, line: line.line))
        }
        if options.has("forward_pass") {
            findings.append(DoctorFinding(.ok, "forward_pass: one prompt takes the password and the code as one string; the code at its end goes to otpgated, the rest is handed on as the password"
                + (password.map { " to \($0.moduleName ?? "") at \($0.location)" } ?? ""),
                file: line.file, line: line.line))
        }
        if let grace = options.gracePeriod {
            findings.append(DoctorFinding(.ok, "grace_period=\(grace): after a good code, the same user from the same remote host needs none for \(grace) s (a shared or NATed address shares it)",
                file: line.file, line: line.line))
        }
    }

    private mutating func fail(_ rule: PAMRule, _ what: String, fix: String, level: DoctorFinding.Level = .fail) {
        let finding = DoctorFinding(level, what, fix: fix, file: rule.file, line: rule.line)
        if !findings.contains(where: { $0.what == finding.what && $0.file == finding.file && $0.line == finding.line }) {
            findings.append(finding)
        }
    }

    /// One pam_otpgate line: the module is there, its options are valid, its socket is
    /// the daemon's, its place against the password module.
    private mutating func checkLine(
        _ rule: PAMRule, index: Int, exists: Bool, password: (Int, PAMRule)?, daemonSocket: String
    ) {
        if !exists, case .module(let path, _) = rule.kind {
            fail(rule, "cannot find the module \(path): PAM refuses every login through this stack", fix: "sudo make install puts it in \(Self.moduleDirectories[0]), or give its absolute path")
        }
        let options = OTPGateModuleOptions(rule.arguments)
        for (argument, why, fix) in options.problems {
            fail(rule, "'\(rule.text)': option '\(argument)': \(why)", fix: fix)
        }
        if options.socket != daemonSocket {
            fail(rule, "'\(rule.text)': the module asks \(options.socket), but the daemon listens on \(daemonSocket); every login fails",
                 fix: daemonSocket == OTPGateModuleOptions.defaultSocket ? "remove the socket= option" : "socket=\(daemonSocket)")
        }
        guard let (passwordIndex, passwordRule) = password else {
            if options.has("use_first_pass") {
                fail(rule, "'\(rule.text)': use_first_pass, but no module before it reads a password: every login fails", fix: "remove use_first_pass")
            }
            return
        }
        let name = passwordRule.moduleName ?? ""
        if options.has("forward_pass") {
            if passwordIndex < index {
                fail(rule, "'\(rule.text)': forward_pass after \(name) (\(passwordRule.location)): the password was asked for already, and the password part is handed to no one",
                     fix: "put this line before the password module and give that one try_first_pass", level: .warn)
            } else if !passwordRule.arguments.contains(where: { $0 == "use_first_pass" || $0 == "try_first_pass" }) {
                fail(rule, "'\(rule.text)': forward_pass, but \(name) (\(passwordRule.location)) has neither use_first_pass nor try_first_pass: it asks for the password again",
                     fix: "add try_first_pass to '\(passwordRule.text)'", level: .warn)
            }
        } else if options.has("use_first_pass") && passwordIndex < index {
            fail(rule, "'\(rule.text)': use_first_pass takes the password typed for \(name) (\(passwordRule.location)) as the code, so the code is never asked and logins fail",
                 fix: "remove use_first_pass")
        } else if index < passwordIndex {
            fail(rule, "'\(rule.text)' comes before the password (\(name) at \(passwordRule.location)): anyone who reaches the prompt can guess codes and lock the user out without knowing the password",
                 fix: "move this line after '@include common-auth' (after \(passwordRule.location))")
        } else if options.has("try_first_pass") {
            fail(rule, "'\(rule.text)': try_first_pass: a password typed for \(name) (\(passwordRule.location)) that looks like a code is offered as the code",
                 fix: "remove try_first_pass, so the module asks for the code", level: .warn)
        }
    }

    /// Every way to success: pam_otpgate ran, and did not fail (or its control, or a
    /// later reset, is named).
    private mutating func checkWays(_ rules: [PAMRule], _ evaluation: PAMStackEvaluator) {
        let first = rules.firstIndex(where: \.isOTPGate)!
        for success in evaluation.successes {
            let otpgate = success.otpgate(in: rules)
            if otpgate.isEmpty {
                // Who ended the stack, or jumped, before pam_otpgate.
                if let step = success.steps.last(where: { step in
                    if case .jump = step.action { return true }
                    return step.action == .done
                }) {
                    let rule = rules[step.rule]
                    let how = step.action == .done ? "ends the stack with success" : "jumps past pam_otpgate"
                    fail(rule, "'\(rule.text)' \(how) when it returns \(step.value.rawValue): a login succeeds without a code",
                         fix: "make it 'required', or move pam_otpgate before it")
                } else {
                    fail(rules[first], "some logins succeed without reaching pam_otpgate", fix: "write it 'auth required pam_otpgate.so ...' after common-auth")
                }
            } else if let failed = otpgate.first(where: { $0.value.isFailure }) {
                let otp = rules[failed.rule]
                switch failed.action {
                case .ignore, .jump, .reset:
                    // Its own control lets the stack go on: say which failures do.
                    let lenient = PAMReturn.otpgate(mayIgnore: true).filter { value in
                        guard value.isFailure else { return false }
                        switch otp.control.action(value) {
                        case .ignore, .jump, .reset: return true
                        default: return false
                        }
                    }
                    let effect: String
                    switch failed.action {
                    case .jump(let n): effect = "skips the next \(n) line\(n == 1 ? "" : "s") instead of failing"
                    case .reset: effect = "resets the stack instead of failing"
                    default: effect = "is ignored"
                    }
                    let wrong = lenient.contains(.authErr) ? "a wrong code" : "a failure (\(failed.value.rawValue))"
                    let actions = Set(lenient.map { otp.control.action($0).description }).sorted().joined(separator: "/")
                    fail(otp, "'\(otp.text)': \(wrong) \(effect) (\(lenient.map(\.rawValue).joined(separator: ", ")): \(actions)) and the login can succeed: the code is not mandatory",
                         fix: "write it 'auth required pam_otpgate.so ...' (or requisite)")
                default:
                    if let reset = success.steps.last(where: { $0.action == .reset && $0.rule > failed.rule }) {
                        let rule = rules[reset.rule]
                        fail(rule, "'\(rule.text)' resets the stack after pam_otpgate failed (when it returns \(reset.value.rawValue)): a wrong code can still log in",
                             fix: "remove the reset action")
                    } else {
                        fail(otp, "a login can succeed after pam_otpgate failed (\(failed.value.rawValue))", fix: "write it 'auth required pam_otpgate.so ...'")
                    }
                }
            }
        }
    }
}
