import Foundation
import Glibc

/// The programs under test, built next to the test bundle (the test targets depend on
/// them), and copies of them that other uids can run.
package enum Programs {
    package static let directory: String = {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent().path
    }()

    /// The built program `name` (otpgated, otpgate-store-harness, ...).
    package static func path(_ name: String) -> String { directory + "/" + name }

    package static let otpgate = path("otpgate")
    package static let otpgated = path("otpgated")
    package static let clientExample = path("otpgate-client-example")

    /// Copies of the programs that another uid can run: the build directory may sit
    /// where only root can go (a clone in a 0700 home). Removed when the tests end.
    package static let sharedDirectory: String = {
        var template = Array("/tmp/otpgate-programs-XXXXXX".utf8CString)
        let dir = String(cString: mkdtemp(&template)!)
        chmod(dir, 0o755)
        // Copied by install(1), not in this process: a child spawned by another thread
        // while our copy's descriptor was open for writing would hold it, and executing
        // the copy then fails with ETXTBSY ("Text file busy", seen under load).
        for name in ["otpgate", "otpgated"] where FileManager.default.fileExists(atPath: path(name)) {
            try! Command.check("/usr/bin/install", ["-m", "0755", path(name), dir + "/" + name])
        }
        sharedDirectoryToRemove = dir
        atexit { if let dir = Programs.sharedDirectoryToRemove { try? FileManager.default.removeItem(atPath: dir) } }
        return dir
    }()
    nonisolated(unsafe) private static var sharedDirectoryToRemove: String?

    /// `program` (one of the above) as another uid can run it.
    package static func forOtherUsers(_ program: String) -> String {
        sharedDirectory + "/" + URL(fileURLWithPath: program).lastPathComponent
    }
}
