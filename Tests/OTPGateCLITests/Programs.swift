import Foundation
import Glibc

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

    /// Copies of the programs that another uid can run: the build directory may sit
    /// where only root can go (a clone in a 0700 home). Removed when the tests end.
    static let sharedDirectory: String = {
        var template = Array("/tmp/otpgate-cli-programs-XXXXXX".utf8CString)
        let dir = String(cString: mkdtemp(&template)!)
        chmod(dir, 0o755)
        for name in ["otpgate", "otpgated"] {
            try! FileManager.default.copyItem(atPath: directory + "/" + name, toPath: dir + "/" + name)
            chmod(dir + "/" + name, 0o755)
        }
        sharedDirectoryToRemove = dir
        atexit { if let dir = Programs.sharedDirectoryToRemove { try? FileManager.default.removeItem(atPath: dir) } }
        return dir
    }()
    nonisolated(unsafe) private static var sharedDirectoryToRemove: String?

    /// `program` (one of the above) as another uid can run it.
    static func forOtherUsers(_ program: String) -> String {
        sharedDirectory + "/" + URL(fileURLWithPath: program).lastPathComponent
    }

    /// `otpgate ARGS`, as root or, through setpriv, as `user`.
    static func otpgate(_ arguments: [String], stdin: String? = nil, as user: ThrowawayUser? = nil) async throws -> Command {
        if let user {
            return try await Command.run("/usr/bin/setpriv", user.asUser([forOtherUsers(otpgate)] + arguments), stdin: stdin)
        }
        return try await Command.run(otpgate, arguments, stdin: stdin)
    }
}
