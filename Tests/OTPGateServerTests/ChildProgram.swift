import Foundation
import Glibc
@testable import OTPGateServer

/// A program run as a child with a clean environment (what systemd would give: no
/// LISTEN_* or credentials of the test's own), its standard error read line by line.
/// Until the shared test-support target's spawner replaces it (issue 10, item 3).
final class ChildProgram {
    let process = Process()
    private let errors = Pipe()
    private var buffer = Data()
    /// Every stderr line read so far, for diagnostics.
    private(set) var stderrLines: [String] = []

    /// The otpgated built next to this test bundle (the test target depends on it).
    static let otpgated: String = {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("otpgated").path
    }()

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        Glibc.signal(SIGPIPE, SIG_IGN)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("LISTEN_") && !key.hasPrefix("WATCHDOG_") && key != "NOTIFY_SOCKET" && key != "CREDENTIALS_DIRECTORY"
        }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The next stderr line; nil at end of output (the program exited).
    func readErrorLine() -> String? {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer = Data(buffer[(nl + 1)...])
                stderrLines.append(line)
                return line
            }
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty {
                if !buffer.isEmpty {
                    stderrLines.append(String(decoding: buffer, as: UTF8.self))
                    buffer = Data()
                    return stderrLines.last
                }
                return nil
            }
            buffer.append(chunk)
        }
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
        process.waitUntilExit()
        return process.terminationStatus
    }

    var stderrText: String { stderrLines.joined(separator: "\n") }

    func send(signal number: Int32) {
        kill(process.processIdentifier, number)
    }
}
