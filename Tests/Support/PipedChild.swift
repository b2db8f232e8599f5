import Glibc
import Synchronization

/// A program that runs beside a test and talks to it over pipes: the test writes to
/// its stdin and reads its stdout line by line with a deadline; its stderr is collected
/// for failure messages (socat relays, python3 load clients, the store harness).
package final class PipedChild: Sendable {
    package let process: ChildProcess
    /// Its stdin's write end (-1 once closed).
    private let input: Mutex<Int32>
    private let reader: Mutex<LineReader>
    private let output: Int32
    private let errors: Reader

    /// Starts `executable`; `environment` nil: this process's.
    package init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        signal(SIGPIPE, SIG_IGN)  // a child that exits before reading its input must not take us along
        let stdin = try Descriptors.pipe()
        let stdout = try Descriptors.pipe()
        let stderr = try Descriptors.pipe()
        do {
            process = try ChildProcess(
                executable, arguments, environment: environment, stdin: stdin.read, stdout: stdout.write, stderr: stderr.write)
        } catch {
            [stdin.read, stdin.write, stdout.read, stdout.write, stderr.read, stderr.write].forEach { close($0) }
            throw error
        }
        [stdin.read, stdout.write, stderr.write].forEach { close($0) }
        input = Mutex(stdin.write)
        output = stdout.read
        reader = Mutex(LineReader(fd: stdout.read))
        errors = Reader(stderr.read)
    }

    deinit {
        if process.isRunning { process.killAndWait() }
        closeInput()
        close(output)
        _ = errors.wait()
    }

    /// Writes all of `bytes` to the child's stdin, or throws when it went away.
    package func send(_ bytes: [UInt8]) throws {
        let sent = input.withLock { fd in fd >= 0 && Descriptors.write(bytes, to: fd) }
        guard sent else { throw FixtureError("the child \(process.pid) went away: \(errnoText())") }
    }

    /// The next line of its stdout.
    package func readLine(timeout: Duration) -> LineReader.Outcome {
        reader.withLock { $0.readLine(timeout: timeout) }
    }

    /// Closes its stdin (its end of input).
    package func closeInput() {
        input.withLock { fd in
            if fd >= 0 {
                close(fd)
                fd = -1
            }
        }
    }

    /// Closes its stdin, waits up to `timeout` for it to end (SIGKILL then), and
    /// returns how it ended and what it wrote to stderr.
    @discardableResult
    package func finish(timeout: Duration = .seconds(10)) -> (end: ChildProcess.Termination, stderr: String) {
        closeInput()
        let end = process.wait(timeout: timeout) ?? {
            process.killAndWait()
            return process.wait()
        }()
        return (end, String(decoding: errors.wait(), as: UTF8.self))
    }

    /// What it wrote to stderr, once it has ended (kills it first if it has not).
    package func stderrAfterKill() -> String {
        if process.isRunning { process.killAndWait() }
        return String(decoding: errors.wait(), as: UTF8.self)
    }
}
