import ArgumentParser

/// otpgate-bench: load, latency and start-up figures for otpgated, the costs that
/// bound them, and PAM logins side by side with the peers. See docs/PERFORMANCE.md.
@main
struct OTPGateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otpgate-bench",
        abstract: "Benchmarks otpgated: verify throughput and latency, start-up, memory, fsyncs, PAM logins.",
        subcommands: [Load.self, Startup.self, Probe.self, Peers.self, Populate.self, Drive.self],
        defaultSubcommand: Load.self)
}
