import Foundation
import Glibc
import Synchronization

/// A system user made for one test (`otpgate-test-xxxxxx`, no home, no shell) and
/// deleted again, so that the CLI runs with a real uid other than root. (After
/// OTPGateDaemonTests/ThrowawayUser.swift; a test target cannot import another.)
final class ThrowawayUser: Sendable {
    let name: String
    let uid: UInt32
    let gid: UInt32
    private let removed = Mutex(false)

    init() async throws {
        let suffix = String((0..<6).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! })
        name = "otpgate-test-" + suffix
        try await Command.check("/usr/sbin/useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name])
        guard let pw = getpwnam(name) else {
            _ = try? await Command.run("/usr/sbin/userdel", [name])
            throw FixtureError("useradd created \(name), but getpwnam does not find it")
        }
        uid = pw.pointee.pw_uid
        gid = pw.pointee.pw_gid
    }

    deinit { remove() }

    /// userdel (which also drops the user's own group). Synchronous, so deinit can use it.
    func remove() {
        guard removed.withLock({ done in defer { done = true }; return !done }) else { return }
        guard let null = try? Descriptors.open("/dev/null", O_RDWR) else { return }
        defer { close(null) }
        (try? ChildProcess("/usr/sbin/userdel", [name], stdin: null, stdout: null, stderr: null))?.wait()
    }

    /// setpriv's arguments that run `command` as this user, with no supplementary groups.
    func asUser(_ command: [String]) -> [String] {
        ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--"] + command
    }
}
