import Foundation
import Glibc
import OTPGateTestSupport
import Testing

/// Runs Tests/ClientProbe (built next to this test bundle) and decodes its JSON line.
enum Probe {
    static let path = Programs.path("otpgate-client-probe")

    static func run(_ arguments: [String]) async throws -> [String: Any] {
        // What is measured is whether the client blocks the probe's own threads, not
        // how the machine schedules it while `swift test` runs other suites beside it
        // (scrypt, floods): as root, the probe runs at a raised priority.
        let run = geteuid() == 0
            ? try await Command.run("/usr/bin/nice", ["-n", "-15", path] + arguments, timeout: .seconds(120))
            : try await Command.run(path, arguments, timeout: .seconds(120))
        #expect(run.status == 0, "probe \(arguments) exited \(run)")
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        return try #require(object, "probe printed \(run)")
    }
}
