import Foundation

/// The programs under test, built next to this test bundle (the test target depends on
/// them), and how the tests run them.
enum Programs {
    static let directory: String = {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent().path
    }()

    static let otpgate = directory + "/otpgate"
    static let otpgated = directory + "/otpgated"
    static let clientExample = directory + "/otpgate-client-example"

    /// `otpgate ARGS`, as root or, through setpriv, as `user`.
    static func otpgate(_ arguments: [String], stdin: String? = nil, as user: ThrowawayUser? = nil) async throws -> Command {
        if let user {
            return try await Command.run("/usr/bin/setpriv", user.asUser([otpgate] + arguments), stdin: stdin)
        }
        return try await Command.run(otpgate, arguments, stdin: stdin)
    }
}
