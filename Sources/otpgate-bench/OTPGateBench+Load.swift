import ArgumentParser
import Foundation

extension OTPGateBench {
    /// The main benchmark: verify throughput and latency against the real daemon.
    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enrol users, start otpgated, send verify requests, report throughput and latency.",
            discussion: """
                Closed loop (default): every connection sends its next request as soon as the
                answer to the previous one is in, so throughput is the most the daemon gives
                with that many requests in flight. Open loop (--rate): requests leave on a
                fixed schedule; a late answer delays the next request, and that wait counts
                in its latency (no coordinated omission).
                """)

        @OptionGroup var common: CommonOptions

        @Option(help: "Concurrent connections (each has one request in flight).")
        var connections = 64

        @Option(help: "Measured seconds.")
        var duration = 10.0

        @Option(help: "Seconds of load before measuring starts.")
        var warmup = 2.0

        @Option(help: "Open loop: requests per second over all connections. Without it: closed loop.")
        var rate: Double?

        @Option(help: "Request mix, e.g. valid=90,wrong=5,replay=5.")
        var mix = RequestMix(valid: 90, wrong: 5, replay: 5)

        @Option(
            name: .customLong("fsync-pass"),
            help: "Seconds of a second pass with the daemon under strace -f -c, to count fsync/fdatasync per verify (0: none).")
        var fsyncPass = 0.0

        @Flag(help: "Send health requests instead of verify: the daemon's cost without the store.")
        var health = false

        @Option(help: "A name for this scenario in the report.")
        var label: String?

        func run() throws {
            let say: (String) -> Void = { line in if !common.json { print(line) } }
            let env = try BenchEnvironment(common, say: say)
            defer { env.finish() }
            guard connections >= 1, duration > 0, warmup >= 0 else {
                throw ValidationError("--connections must be at least 1 and --duration positive")
            }

            let machine = MachineState.summary()
            let logStart = env.logSize()
            let daemon = try env.startDaemon()
            let ready = try daemon.waitUntilReady()
            let idle = daemon.memory()
            var generator = LoadGenerator(
                population: env.population, socketPath: daemon.socketPath, connections: connections, mix: mix,
                rate: rate, warmup: warmup, duration: duration)
            generator.healthOnly = health
            let result = try generator.run(daemon: daemon)
            let loaded = daemon.memoryDetail()
            let status = daemon.stop()
            let writes = env.writeStatistics(since: logStart)

            var fsyncs: (calls: Int, verifies: Int)?
            if fsyncPass > 0 {
                let summary = env.directory + "/strace-summary.txt"
                let traced = try env.startDaemon(straceOutput: summary)
                _ = try traced.waitUntilReady()
                var pass = generator
                pass.warmup = 0
                pass.duration = fsyncPass
                let r = try pass.run(daemon: traced)
                traced.stop()
                fsyncs = (BenchEnvironment.syncCalls(inStraceSummary: summary), r.latency.count)
            }

            let report = LoadReport(
                label: label ?? ((health ? "health, " : "") + (rate.map { "open loop \(Int($0))/s" } ?? "closed loop")), users: env.population.users,
                kind: env.population.kind, connections: connections, rate: rate, mix: mix,
                workerThreads: common.workerThreads, enrolSeconds: env.enrolSeconds, readyMS: Monotonic.milliseconds(ready),
                idleMemory: idle, loadedMemory: loaded, result: result, writes: writes, fsyncs: fsyncs, exitStatus: status, machine: machine)
            print(common.json ? report.json : report.text)
            if !result.errors.isEmpty || result.outcomes.unexpected > 0 || status != 0 {
                throw ExitCode(1)
            }
        }
    }
}
