import Foundation

/// Runs a program to completion and captures what it printed (for useradd, chattr,
/// a python3 probe run as another user...).
struct Command {
    let status: Int32
    let stdout: String
    let stderr: String

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> Command {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Small outputs only: read both to the end, then reap.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Command(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Like `run`, but throws unless the program exits 0.
    @discardableResult
    static func check(_ executable: String, _ arguments: [String]) throws -> Command {
        let result = try run(executable, arguments)
        guard result.status == 0 else {
            throw FixtureError("\(executable) \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result
    }
}
