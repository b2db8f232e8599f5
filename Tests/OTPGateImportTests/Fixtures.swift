import Foundation
import Glibc
import OTPGateTestSupport

/// Temporary files for the parser tests, and the real google-authenticator tool.
enum Fixtures {
    static func directory() throws -> String {
        var template = Array("/tmp/otpgate-import-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FixtureError("mkdtemp failed") }
        return String(cString: made)
    }

    static func write(_ text: String, to path: String, mode: mode_t = 0o600) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
    }

    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Runs a program (OTPGateTestSupport's spawner); throws unless it exits 0.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], stdin: String = "") throws -> String {
        let result = try Command.run(executable, arguments, stdin: stdin)
        guard result.status == 0 else { throw FixtureError("\(executable) \(arguments): \(result)") }
        return result.stdout
    }

    /// A ~/.google_authenticator written by the real `google-authenticator` with `flags`.
    static func googleAuthenticator(_ flags: [String], in dir: String, name: String = "ga") throws -> String {
        let path = dir + "/" + name
        try run("/usr/bin/google-authenticator", flags + ["-f", "-q", "-Q", "NONE", "-s", path])
        return path
    }

    static func oathtool(_ arguments: [String]) throws -> String {
        try run("/usr/bin/oathtool", arguments).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
