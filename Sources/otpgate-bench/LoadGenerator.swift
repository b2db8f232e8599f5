import Foundation
import Glibc

/// Runs `connections` workers on their own threads against one daemon and merges
/// what they measured.
struct LoadGenerator {
    var population: Population
    var socketPath: String
    var connections: Int
    var mix: RequestMix
    /// Requests per second over all connections; nil: closed loop.
    var rate: Double?
    var warmup: Double
    var duration: Double
    var hotpLookAhead = 10
    var healthOnly = false

    func run(daemon: DaemonProcess) throws -> LoadResult {
        let workers = (0..<connections).map {
            let w = LoadWorker(
                index: $0, connections: connections, population: population, mix: mix, socketPath: socketPath,
                hotpLookAhead: hotpLookAhead)
            w.healthOnly = healthOnly
            return w
        }
        let start = Monotonic.now() + 50_000_000
        var schedule = LoadWorker.Schedule(
            start: start, measureFrom: start + UInt64(warmup * 1e9), end: start + UInt64((warmup + duration) * 1e9))
        if let rate {
            schedule.interval = UInt64(Double(connections) / rate * 1e9)
        }
        let group = DispatchGroup()
        for (i, worker) in workers.enumerated() {
            var mine = schedule
            if let rate { mine.offset = UInt64(Double(i) / rate * 1e9) }
            let s = mine
            group.enter()
            let thread = Thread {
                worker.run(s)
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        Monotonic.sleep(until: schedule.measureFrom)
        let cpu0 = (daemon.cpuSeconds(), Self.ownCPUSeconds())
        Monotonic.sleep(until: schedule.end)
        let cpu1 = (daemon.cpuSeconds(), Self.ownCPUSeconds())
        group.wait()
        var samples: [UInt64] = []
        var outcomes = Outcomes()
        var skipped = 0
        var errors: [String] = []
        for w in workers {
            samples += w.samples
            outcomes = outcomes + w.outcomes
            skipped += w.skipped
            if let e = w.error { errors.append(e) }
            errors += w.surprises
        }
        return LoadResult(
            seconds: duration, latency: LatencySummary(samples), outcomes: outcomes, skipped: skipped,
            daemonCPU: (cpu1.0 - cpu0.0) / duration, benchCPU: (cpu1.1 - cpu0.1) / duration, errors: errors)
    }

    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }
}
