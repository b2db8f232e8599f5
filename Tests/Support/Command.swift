import Foundation
import Glibc
import Synchronization

/// A program run to completion, with what it printed. A program that hangs is killed
/// after a timeout and fails its test instead of hanging the run. From async tests the
/// blocking work runs on a thread of its own (`onThread`), so other tests keep running.
package struct Command: Sendable, CustomStringConvertible {
    package let status: Int32
    package let stdout: String
    package let stderr: String

    package var description: String { "exit \(status)\n--- stdout:\n\(stdout)--- stderr:\n\(stderr)" }

    /// stderr's lines (without the final newline).
    package var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast() }

    /// Runs `executable` with `arguments`; `stdin` is written to its standard input
    /// (otherwise /dev/null). Throws if it cannot start or is killed by a signal.
    @discardableResult
    package static func run(
        _ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String]? = nil,
        timeout: Duration = .seconds(60)
    ) throws -> Command {
        signal(SIGPIPE, SIG_IGN)  // a program that exits before reading its input must not take us along
        let input = try stdin.map { _ in try Descriptors.pipe() }
        let null = try Descriptors.open("/dev/null", O_RDONLY)
        let out = try Descriptors.pipe()
        let err = try Descriptors.pipe()
        let child: ChildProcess
        do {
            child = try ChildProcess(
                executable, arguments, environment: environment, stdin: input?.read ?? null, stdout: out.write, stderr: err.write)
        } catch {
            [null, out.read, out.write, err.read, err.write, input?.read ?? -1, input?.write ?? -1].filter { $0 >= 0 }.forEach { close($0) }
            throw error
        }
        // Our copies of the child's ends: closed, so that its exit is our end of file.
        [null, out.write, err.write, input?.read ?? -1].filter { $0 >= 0 }.forEach { close($0) }

        let watchdog = Watchdog(child, after: timeout)
        defer { watchdog.cancel() }
        // stdin and stderr on threads of their own, so no pipe can fill up and stall the program.
        if let input, let stdin {
            Thread { Descriptors.writeAll(Array(stdin.utf8), to: input.write) }.start()
        }
        let errors = Reader(err.read)
        let stdout = Descriptors.readAll(out.read)
        let stderr = errors.wait()
        let end = child.wait()
        let result = Command(
            status: end.status, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
        if end.signalled {
            throw FixtureError(
                "\(executable) \(arguments.joined(separator: " ")) was killed by signal \(end.status) (timeout \(timeout)?)\n\(result)")
        }
        return result
    }

    /// `run` from an async test, on a thread of its own.
    @discardableResult
    package static func run(
        _ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String]? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> Command {
        try await onThread { try run(executable, arguments, stdin: stdin, environment: environment, timeout: timeout) }
    }

    /// Like `run`, but throws unless the program exits 0.
    @discardableResult
    package static func check(_ executable: String, _ arguments: [String], stdin: String? = nil) throws -> Command {
        let result = try run(executable, arguments, stdin: stdin)
        guard result.status == 0 else {
            throw FixtureError("\(executable) \(arguments.joined(separator: " ")) failed: \(result)")
        }
        return result
    }

    @discardableResult
    package static func check(_ executable: String, _ arguments: [String], stdin: String? = nil) async throws -> Command {
        try await onThread { try check(executable, arguments, stdin: stdin) }
    }
}

/// Reads a descriptor to its end on a thread of its own (so that a pipe a child writes
/// to never fills up while the test waits for something else).
package final class Reader: Sendable {
    private let data = Mutex<[UInt8]>([])
    private let done = DispatchSemaphore(value: 0)

    package init(_ fd: Int32) {
        Thread { [self] in
            let bytes = Descriptors.readAll(fd)
            data.withLock { $0 = bytes }
            done.signal()
        }.start()
    }

    /// Everything it read (waits for the end of file; may be called again).
    package func wait() -> [UInt8] {
        done.wait()
        done.signal()
        return data.withLock { $0 }
    }
}

/// Kills a child with SIGKILL unless it ends or is cancelled within `after`.
private final class Watchdog: Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(_ child: ChildProcess, after timeout: Duration) {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        Thread { [done] in
            if done.wait(timeout: .now() + seconds) == .timedOut { child.signal(SIGKILL) }
        }.start()
    }

    func cancel() { done.signal() }
}
