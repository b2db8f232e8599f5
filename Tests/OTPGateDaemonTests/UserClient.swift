import Glibc
import OTPGateTestSupport

/// A connection made by another uid: `setpriv` runs socat as that user, and socat
/// relays lines between its stdin/stdout and the socket. The daemon sees the user's
/// credentials (SO_PEERCRED is taken from the process that connected).
final class UserClient: LineClient {
    private let child: PipedChild

    /// `closeWait` is socat's -t: how long it waits for the other side once one side
    /// has ended (for the daemon's last replies after our side is closed, or for our
    /// side after the daemon closed) before it exits and so closes our end.
    init(user: ThrowawayUser, socketPath: String, closeWait: String = "5") throws {
        child = try PipedChild(
            "/usr/bin/setpriv", user.asUser(["/usr/bin/socat", "-t", closeWait, "-", "UNIX-CONNECT:" + socketPath]))
    }

    deinit {
        finish()
    }

    func send(_ bytes: [UInt8]) throws {
        do {
            try child.send(bytes)
        } catch {
            throw FixtureError("socat as another user went away: \(error)")
        }
    }

    func readLine(timeout: Duration) -> LineReader.Outcome {
        child.readLine(timeout: timeout)
    }

    /// Closes socat's input, waits for it (6 s, past its -t 5), and returns its exit
    /// status and stderr.
    @discardableResult
    func finish() -> (status: Int32, stderr: String) {
        let (end, stderr) = child.finish(timeout: .seconds(6))
        return (end.status, stderr)
    }
}
