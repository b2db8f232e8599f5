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

        @OptionGroup var shape: LoadShapeOptions

        @Option(
            name: .customLong("fsync-pass"),
            help: "Seconds of a second pass with the daemon under strace -f -c, to count fsync/fdatasync per verify (0: none).")
        var fsyncPass = 0.0

        @Flag(help: "Send health requests instead of verify: the daemon's cost without the store.")
        var health = false

        @Option(help: "A name for this scenario in the report.")
        var label: String?

        @Option(
            help: ArgumentHelp(
                "The floor server (bench/floor/build/otpgate-floor): run the same scenario against it too, on the same population, and report otpgated's figures as ratios to its.",
                discussion: "With --rounds N the two alternate N times (otpgated, floor, otpgated, ...), so that both see the same minutes of a shared machine."))
        var floor: String?

        @Option(help: "With --floor: how many times otpgated and the floor take turns.")
        var rounds = 1

        func run() throws {
            let say: (String) -> Void = { line in if !common.json { print(line) } }
            let env = try BenchEnvironment(common, say: say)
            defer { env.finish() }
            guard shape.connections >= 1, shape.duration > 0, shape.warmup >= 0, rounds >= 1 else {
                throw ValidationError("--connections and --rounds must be at least 1 and --duration positive")
            }
            if let floor, !FileManager.default.isExecutableFile(atPath: floor) {
                throw BenchError("no floor server at \(floor); build it with make -C bench/floor")
            }
            let name = label ?? ((health ? "health, " : "") + (shape.rate.map { "open loop \(Int($0))/s" } ?? "closed loop"))
            var failed = false
            var comparisons: [LoadComparison] = []
            for round in 0..<(floor == nil ? 1 : rounds) {
                let suffix = floor == nil || rounds == 1 ? "" : " (round \(round + 1) of \(rounds))"
                let (daemonReport, ok) = try pass(env, executable: nil, label: name + suffix, fsyncPass: round == 0 ? fsyncPass : 0)
                failed = failed || !ok
                print(common.json ? daemonReport.json : daemonReport.text)
                guard let floor else { continue }
                let (floorReport, floorOK) = try pass(env, executable: floor, label: name + ", floor" + suffix, fsyncPass: 0)
                failed = failed || !floorOK
                print(common.json ? floorReport.json : floorReport.text)
                comparisons.append(LoadComparison(daemon: daemonReport.result, floor: floorReport.result))
            }
            if !comparisons.isEmpty {
                let summary = LoadComparison.summary(comparisons, label: name)
                print(common.json ? summary.json : summary.text)
            }
            if failed { throw ExitCode(1) }
        }

        /// One run of the scenario against otpgated (or the floor at `executable`).
        private func pass(
            _ env: BenchEnvironment, executable: String?, label: String, fsyncPass: Double
        ) throws -> (LoadReport, Bool) {
            let machine = MachineState.summary()
            let logStart = env.logSize()
            let daemon = try env.startDaemon(executable: executable)
            let ready = try daemon.waitUntilReady()
            let idle = daemon.memory()
            var generator = LoadGenerator(
                population: env.population, socketPath: daemon.socketPath, connections: shape.connections, mix: shape.mix,
                rate: shape.rate, warmup: shape.warmup, duration: shape.duration)
            generator.healthOnly = health
            let result = try generator.run(daemon: daemon)
            let loaded = daemon.memoryDetail()
            let status = daemon.stop()
            let writes = env.writeStatistics(since: logStart)

            var fsyncs: (calls: Int, verifies: Int)?
            if fsyncPass > 0 {
                let summary = env.directory + "/strace-summary.txt"
                let traced = try env.startDaemon(executable: executable, straceOutput: summary)
                _ = try traced.waitUntilReady()
                var pass = generator
                pass.warmup = 0
                pass.duration = fsyncPass
                let r = try pass.run(daemon: traced)
                traced.stop()
                fsyncs = (BenchEnvironment.syncCalls(inStraceSummary: summary), r.latency.count)
            }

            let report = LoadReport(
                label: label, users: env.population.users,
                kind: env.population.kind, connections: shape.connections, rate: shape.rate, mix: shape.mix,
                workerThreads: common.workerThreads, enrolSeconds: env.enrolSeconds, readyMS: Monotonic.milliseconds(ready),
                idleMemory: idle, loadedMemory: loaded, result: result, writes: writes, fsyncs: fsyncs, exitStatus: status, machine: machine)
            let ok = result.errors.isEmpty && result.outcomes.unexpected == 0 && status == 0
            return (report, ok)
        }
    }
}
