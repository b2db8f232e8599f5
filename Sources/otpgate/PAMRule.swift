/// One `auth` handler of a PAM stack, after includes are expanded, with where it was
/// written.
struct PAMRule: Sendable {
    enum Kind: Sendable {
        /// A module line: its path as written and its arguments.
        case module(path: String, arguments: [String])
        /// Where a `substack` starts: libpam skips it, but a jump counts it as one module.
        case substack(String)
        /// A line libpam could not use (a missing include, an unknown type): it fails.
        case broken(String)
    }

    let file: String
    let line: Int
    /// The line as written, white space squeezed, for messages.
    let text: String
    let control: PAMControl
    let kind: Kind
    /// The substack depth (0 for the service's own stack).
    let level: Int

    var location: String { "\(file):\(line)" }

    /// The module's file name (`pam_unix.so`), nil for substacks and broken lines.
    var moduleName: String? {
        guard case .module(let path, _) = kind else { return nil }
        return path.split(separator: "/").last.map(String.init) ?? path
    }

    var arguments: [String] {
        guard case .module(_, let arguments) = kind else { return [] }
        return arguments
    }

    var isOTPGate: Bool { moduleName == "pam_otpgate.so" }

    /// Modules that check the account's password (pam_unix and the directory services
    /// Debian's common-auth may hold instead).
    var checksPassword: Bool {
        guard let name = moduleName else { return false }
        return ["pam_unix.so", "pam_unix2.so", "pam_sss.so", "pam_ldap.so", "pam_krb5.so", "pam_winbind.so", "pam_pwdb.so", "pam_userdb.so"]
            .contains(name)
    }
}
