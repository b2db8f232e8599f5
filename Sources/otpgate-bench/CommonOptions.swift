import ArgumentParser
import Foundation

/// Options shared by the commands that start a daemon on an enrolled population.
struct CommonOptions: ParsableArguments {
    @Option(help: "The otpgated binary (default: next to this one).")
    var otpgated: String?

    @Option(
        name: .customLong("state-dir"),
        help: "Keep the population and the daemon's files here, and reuse them when they exist (default: a new directory under /var/tmp, removed afterwards).")
    var stateDirectory: String?

    @Option(help: "Users to enrol, one token each.")
    var users = 10_000

    @Option(help: "Token kind: totp (checks 3 steps: window 1) or hotp (checks 22 counters: look-ahead 10 and as many behind).")
    var kind: Population.Kind = .totp

    @Option(
        help: ArgumentHelp(
            "TOTP period in seconds.",
            discussion: "1 by default so that each user has a fresh code every second: a verify costs the same whatever the period, and with 30 s a benchmark would need a user per 30 verifies."))
    var period: Int64 = 1

    @Option(name: .customLong("worker-threads"), help: "server.worker_threads for the daemon (default: the daemon's own default).")
    var workerThreads: Int?

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func otpgatedPath() -> String {
        if let otpgated { return otpgated }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("otpgated").path
    }
}
