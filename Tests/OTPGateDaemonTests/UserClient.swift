import Foundation
import Glibc

/// A connection made by another uid: `setpriv` runs socat as that user, and socat
/// relays lines between its stdin/stdout and the socket. The daemon sees the user's
/// credentials (SO_PEERCRED is taken from the process that connected).
final class UserClient: LineClient {
    private let process: Process
    private let input: Pipe
    private let errors: Pipe
    private var reader: LineReader

    init(user: ThrowawayUser, socketPath: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        // -t: how long socat waits for the daemon after our side is closed.
        process.arguments = user.asUser(["/usr/bin/socat", "-t", "5", "-", "UNIX-CONNECT:" + socketPath])
        input = Pipe()
        let output = Pipe()
        errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        reader = LineReader(fd: output.fileHandleForReading.fileDescriptor)
    }

    deinit {
        finish()
    }

    func send(_ bytes: [UInt8]) throws {
        let fd = input.fileHandleForWriting.fileDescriptor
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw FixtureError("socat as another user went away: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    func readLine(timeout: Duration) -> LineReader.Outcome {
        reader.readLine(timeout: timeout)
    }

    /// Closes socat's input, waits for it, and returns its exit status and stderr.
    @discardableResult
    func finish() -> (status: Int32, stderr: String) {
        try? input.fileHandleForWriting.close()
        if process.isRunning {
            let deadline = ContinuousClock.now + .seconds(6)
            while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        let text = String(decoding: (try? errors.fileHandleForReading.readToEnd()) ?? Data(), as: UTF8.self)
        return (process.terminationStatus, text)
    }
}
