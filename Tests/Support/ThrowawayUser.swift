import Foundation
import Glibc
import Synchronization

/// A system user created for one test (`otpgate-test-xxxxxx`, no home, no shell) and
/// deleted again, so that authorization and the CLI are tested with a real uid other
/// than root.
package final class ThrowawayUser: Sendable {
    package let name: String
    package let uid: UInt32
    package let gid: UInt32
    private let removed = Mutex(false)

    package init() throws {
        let suffix = String((0..<6).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! })
        name = "otpgate-test-" + suffix
        try Command.check("/usr/sbin/useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name])
        guard let pw = getpwnam(name) else {
            _ = try? Command.run("/usr/sbin/userdel", [name])
            throw FixtureError("useradd created \(name), but getpwnam does not find it")
        }
        uid = pw.pointee.pw_uid
        gid = pw.pointee.pw_gid
    }

    /// `init` from an async test, on a thread of its own.
    package static func created() async throws -> ThrowawayUser {
        try await onThread { try ThrowawayUser() }
    }

    deinit { remove() }

    /// userdel (which also drops the user's own group). Synchronous, so deinit can use it.
    package func remove() {
        guard removed.withLock({ done in defer { done = true }; return !done }) else { return }
        _ = try? Command.run("/usr/sbin/userdel", [name])
    }

    /// setpriv's arguments that run `command` as this user, with no supplementary groups.
    package func asUser(_ command: [String]) -> [String] {
        ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--"] + command
    }

    /// errno of connect(2) to `path` as this user (0 when it connects), probed with python3.
    package func connectErrno(_ path: String) throws -> Int32 {
        let probe = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(sys.argv[1])
                print(0)
            except OSError as e:
                print(e.errno)
            """
        let result = try Command.check("/usr/bin/setpriv", asUser(["/usr/bin/python3", "-c", probe, path]))
        guard let errno = Int32(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw FixtureError("connect probe printed \(result.stdout) \(result.stderr)")
        }
        return errno
    }
}
