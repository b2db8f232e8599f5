import Foundation
import Glibc

/// A system user created for one test (`otpgate-test-xxxx`, no home, no shell) and
/// deleted again, so authorization can be tested with a real uid other than root.
final class ThrowawayUser {
    let name: String
    let uid: UInt32
    let gid: UInt32
    private var removed = false

    init() throws {
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

    deinit { remove() }

    /// userdel (also drops the user's own group).
    func remove() {
        guard !removed else { return }
        removed = true
        _ = try? Command.run("/usr/sbin/userdel", [name])
    }

    /// The argument vector that runs `command` as this user, with no supplementary groups.
    func asUser(_ command: [String]) -> [String] {
        ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--"] + command
    }

    /// errno of connect(2) to `path` as this user (0 when it connects), probed with python3.
    func connectErrno(_ path: String) throws -> Int32 {
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
