import ArgumentParser
import Foundation

extension OTPGateBench {
    /// Start-to-ready time and memory with a given number of enrolled users.
    struct Startup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start otpgated repeatedly on an enrolled store: time from spawn to a health answer, and RSS.",
            discussion: """
                Each start is timed from posix_spawn until the public socket answers a health
                request. After the last start a short closed-loop verify load runs, and the
                RSS is read again, so the figure includes the page cache SQLite fills when
                it serves users.
                """)

        @OptionGroup var common: CommonOptions

        @Option(help: "How many times to start the daemon.")
        var starts = 5

        @Option(help: "Seconds of verify load after the last start (0: none).")
        var load = 5.0

        func run() throws {
            let say: (String) -> Void = { line in if !common.json { print(line) } }
            let env = try BenchEnvironment(common, say: say)
            defer { env.finish() }
            var readies: [Double] = []
            var idle: [Int] = []
            var loaded: (rss: Int, peak: Int, anon: Int, file: Int) = (0, 0, 0, 0)
            var throughput = 0.0
            for i in 0..<starts {
                let daemon = try env.startDaemon()
                readies.append(Monotonic.milliseconds(try daemon.waitUntilReady()))
                idle.append(daemon.memory().rss)
                if i == starts - 1 && load > 0 {
                    let generator = LoadGenerator(
                        population: env.population, socketPath: daemon.socketPath, connections: 16,
                        mix: RequestMix(valid: 100, wrong: 0, replay: 0), rate: nil, warmup: 0, duration: load)
                    throughput = try generator.run(daemon: daemon).throughput
                    loaded = daemon.memoryDetail()
                }
                guard daemon.stop() == 0 else { throw BenchError("otpgated did not exit cleanly; see \(env.logPath)") }
            }
            let sorted = readies.sorted()
            let median = sorted[sorted.count / 2]
            if common.json {
                let object: [String: Any] = [
                    "users": env.population.users, "starts": readies, "ready_ms_median": median,
                    "rss_kib_idle": idle, "rss_kib_loaded": loaded.rss, "rss_kib_peak": loaded.peak, "rss_anon_kib_loaded": loaded.anon, "rss_file_kib_loaded": loaded.file,
                    "load_throughput": throughput, "enrol_seconds": env.enrolSeconds ?? 0,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("== startup: \(env.population.users) users; machine: \(MachineState.summary())")
                if let s = env.enrolSeconds { print(String(format: "enrolment    %.1f s", s)) }
                print("ready ms     " + readies.map { String(format: "%.1f", $0) }.joined(separator: ", ")
                      + String(format: " (median %.1f)", median))
                print("RSS idle MB  " + idle.map { String(format: "%.1f", Double($0) / 1024) }.joined(separator: ", "))
                if load > 0 {
                    print(String(format: "after %.0f s of verify load (%.0f/s, 16 connections): RSS %.1f MB (anon %.1f + file %.1f), peak %.1f MB",
                                 load, throughput, Double(loaded.rss) / 1024, Double(loaded.anon) / 1024, Double(loaded.file) / 1024,
                                 Double(loaded.peak) / 1024))
                }
            }
        }
    }
}
