import Foundation
import Glibc
import OTPGateTestSupport

/// One row of the stack table: a PAM service file (and for sshd its sshd_config), what
/// `otpgate admin doctor` must say of it, and what a login with the right password and
/// a wrong code does through real PAM.
struct DoctorStack: Sendable, CustomStringConvertible {
    enum Verdict: Sendable {
        /// Exit 0, no FAIL line, and an ok line at this place saying this.
        case safe(at: String, saying: String)
        /// Exit 4, and a FAIL line at this place (`sudo:2`, `sshd_config:3`) saying this.
        case unsafe(at: String, saying: String)
    }

    let name: String
    /// `sudo` or `sshd`: the service file's name, and what doctor is asked to check.
    let service: String
    /// The service file; MODULE and SOCKET stand for the module's path and the daemon's socket.
    let stack: String
    let sshdConfig: String?
    let verdict: Verdict
    /// Whether a wrong code (after the right password, where the stack asks for one)
    /// logs in: the hole an unsafe row shows for real. For a row doctor calls safe the
    /// test requires false whatever this says.
    let wrongCodeLogsIn: Bool
    /// Whether the right password and code log in (false where the stack is broken).
    let rightCodeLogsIn: Bool

    var description: String { name }

    init(_ name: String, service: String = "sudo", _ stack: String, sshd: String? = nil, _ verdict: Verdict,
         wrongCodeLogsIn: Bool = false, rightCodeLogsIn: Bool = true) {
        self.name = name
        self.service = service
        self.stack = stack
        self.sshdConfig = sshd
        self.verdict = verdict
        self.wrongCodeLogsIn = wrongCodeLogsIn
        self.rightCodeLogsIn = rightCodeLogsIn
    }

    /// Debian 12's /etc/pam.d/common-auth, written into each private confdir so that
    /// no row depends on the machine's own.
    static let commonAuth = """
        auth\t[success=1 default=ignore]\tpam_unix.so nullok
        auth\trequisite\t\t\tpam_deny.so
        auth\trequired\t\t\tpam_permit.so
        auth\toptional\t\t\tpam_cap.so

        """

    /// The sshd_config of the README's recipe.
    static let recipe = """
        UsePAM yes
        KbdInteractiveAuthentication yes
        AuthenticationMethods publickey,keyboard-interactive:pam keyboard-interactive:pam

        """
}

/// The repository's pam/ directory, and its module and test driver, built once.
enum PAMBuild {
    static let root: String = {
        var url = URL(fileURLWithPath: Programs.directory)
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.path + "/Package.swift") {
            url.deleteLastPathComponent()
        }
        return url.path
    }()

    static var module: String { root + "/pam/build/pam_otpgate.so" }
    static var driver: String { root + "/pam/build/pam_driver" }

    /// `make -C pam` for the module and the driver (quick when they are up to date).
    static let built = Task<Void, any Error> {
        try await Command.check("/usr/bin/make", ["-s", "-C", root + "/pam", "build/pam_otpgate.so", "build/pam_driver"])
    }

    /// pam_start_confdir(SERVICE) and pam_authenticate through the driver, as `user`
    /// typing `code` at every prompt; its "stack=" line ("start: ..." when libpam
    /// refused the config at pam_start).
    ///
    /// The driver answers every prompt alike, so the user's password is set to the
    /// code first: pam_unix then sees the right password whatever the code is, and
    /// the login stands or falls by the code (and by the stack). `password` false: the
    /// stack asks none, and the user need not exist.
    static func login(confdir: String, service: String, user: String, code: String, password: Bool = true) async throws -> String {
        // SHA-512 crypt at its fewest rounds, which pam_unix checks as it would
        // Debian's default yescrypt: chpasswd took 33 ms with yescrypt here and 7 ms
        // with this, and pam_unix pays the hash's cost again in every row.
        if password { try await Command.check("/usr/sbin/chpasswd", ["-c", "SHA512", "-s", "1000"], stdin: "\(user):\(code)\n") }
        let run = try await Command.run(driver, ["auth", confdir, service, user, "--answer", code])
        if run.status == 2, run.stderr.hasPrefix("pam_start_confdir: ") { return "start: " + run.stderr.dropFirst(19).trimmingCharacters(in: .newlines) }
        guard run.status == 0, let line = run.stdout.split(separator: "\n").last(where: { $0.hasPrefix("stack=") }) else {
            throw FixtureError("pam_driver failed: \(run)")
        }
        return String(line.dropFirst("stack=".count))
    }
}
