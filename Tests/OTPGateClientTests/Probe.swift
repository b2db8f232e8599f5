import Foundation
import Testing

/// Runs Tests/ClientProbe (built next to this test bundle) and decodes its JSON line.
enum Probe {
    static let path: String = {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent().path + "/otpgate-client-probe"
    }()

    static func run(_ arguments: [String]) async throws -> [String: Any] {
        let process = Process()
        // What is measured is whether the client blocks the probe's own threads, not
        // how the machine schedules it while `swift test` runs other suites beside it
        // (scrypt, floods): as root, the probe runs at a raised priority.
        if geteuid() == 0 {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/nice")
            process.arguments = ["-n", "-15", path] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
        }
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // Read on a thread of its own: the pipe read blocks.
        let data = await withCheckedContinuation { continuation in
            Thread {
                let data = out.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: data)
            }.start()
        }
        #expect(process.terminationStatus == 0, "probe \(arguments) exited \(process.terminationStatus)")
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return try #require(object, "probe printed \(String(decoding: data, as: UTF8.self))")
    }
}
