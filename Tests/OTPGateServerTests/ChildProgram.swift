import Foundation
import Glibc
import OTPGateTestSupport

/// A program run as a child (OTPGateTestSupport's ChildProcess, the one spawner) with
/// a clean environment (what systemd would give: no LISTEN_* or credentials of the
/// test's own), its standard error read line by line.
final class ChildProgram {
    let process: ChildProcess
    private let errors: Int32
    private var reader: LineReader
    /// Every stderr line read so far, for diagnostics.
    private(set) var stderrLines: [String] = []

    /// The otpgated built next to this test bundle (the test target depends on it).
    static let otpgated = Programs.otpgated

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        var env = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("LISTEN_") && !key.hasPrefix("WATCHDOG_") && key != "NOTIFY_SOCKET" && key != "CREDENTIALS_DIRECTORY"
        }
        env.merge(environment) { $1 }
        let null = try Descriptors.open("/dev/null", O_RDWR)
        defer { close(null) }
        let pipe = try Descriptors.pipe()
        do {
            process = try ChildProcess(executable, arguments, environment: env, stdin: null, stdout: null, stderr: pipe.write)
        } catch {
            close(pipe.read)
            close(pipe.write)
            throw error
        }
        close(pipe.write)
        errors = pipe.read
        reader = LineReader(fd: pipe.read)
    }

    deinit {
        if process.isRunning { process.killAndWait() }
        close(errors)
    }

    /// The next stderr line; nil at end of output (the program exited) or when none
    /// came within `timeout` (a program that hangs fails its test, not the run).
    func readErrorLine(timeout: Duration = .seconds(30)) -> String? {
        guard case .line(let bytes) = reader.readLine(timeout: timeout) else { return nil }
        let line = String(decoding: bytes, as: UTF8.self)
        stderrLines.append(line)
        return line
    }

    /// Reads stderr until a line contains `text`; false if the output ended first.
    func waitForErrorLine(containing text: String) -> Bool {
        while let line = readErrorLine() {
            if line.contains(text) { return true }
        }
        return false
    }

    /// Waits for exit (reading the rest of stderr) and returns the exit status.
    func wait() -> Int32 {
        while readErrorLine() != nil {}
        let end = process.wait(timeout: .seconds(30)) ?? {
            process.killAndWait()
            return process.wait()
        }()
        return end.signalled ? 128 + end.status : end.status
    }

    var stderrText: String { stderrLines.joined(separator: "\n") }

    func send(signal number: Int32) {
        process.signal(number)
    }
}
