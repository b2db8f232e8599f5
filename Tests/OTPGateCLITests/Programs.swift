import OTPGateTestSupport

extension Programs {
    /// `otpgate ARGS`, as root or, through setpriv, as `user`.
    static func otpgate(_ arguments: [String], stdin: String? = nil, as user: ThrowawayUser? = nil) async throws -> Command {
        if let user {
            return try await Command.run("/usr/bin/setpriv", user.asUser([forOtherUsers(otpgate)] + arguments), stdin: stdin)
        }
        return try await Command.run(otpgate, arguments, stdin: stdin)
    }
}
