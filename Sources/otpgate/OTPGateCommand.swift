import ArgumentParser
import OTPGateVersion

/// otpgate: enrol and manage one-time codes for PAM logins.
@main
struct OTPGateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otpgate",
        abstract: "Enrol and manage one-time codes for SSH, sudo and other PAM logins.",
        discussion: """
            User commands talk to the public socket as the calling user; 'otpgate admin'
            commands talk to the admin socket (root only, by default).

            Exit status:
              0   success
              1   the daemon refused: wrong or used code, not enrolled, forbidden, conflict
              2   too many failed attempts: rate limited or locked out
              3   the daemon is unreachable, timed out, or is unavailable
              4   'admin doctor' found a problem
              64  bad command line
            """,
        version: OTPGateVersion.current,
        subcommands: [Enroll.self, Status.self, RecoveryCodes.self, Disable.self, Token.self, Resync.self, Admin.self])
}
