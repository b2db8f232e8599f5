import Foundation
import Glibc

/// Runs `connections` workers on their own threads against one daemon (or several:
/// connection `i` goes to socket `i % sockets`) and merges what they measured.
struct LoadGenerator {
    var population: Population
    var socketPaths: [String]
    var connections: Int
    var mix: RequestMix
    /// Requests per second over all connections; nil: closed loop.
    var rate: Double?
    var warmup: Double
    var duration: Double
    var hotpLookAhead = 10
    var healthOnly = false

    init(
        population: Population, socketPath: String, connections: Int, mix: RequestMix, rate: Double?, warmup: Double,
        duration: Double
    ) {
        self.init(
            population: population, socketPaths: [socketPath], connections: connections, mix: mix, rate: rate, warmup: warmup,
            duration: duration)
    }

    init(
        population: Population, socketPaths: [String], connections: Int, mix: RequestMix, rate: Double?, warmup: Double,
        duration: Double
    ) {
        self.population = population
        self.socketPaths = socketPaths
        self.connections = connections
        self.mix = mix
        self.rate = rate
        self.warmup = warmup
        self.duration = duration
    }

    func run(daemon: DaemonProcess) throws -> LoadResult {
        try run(cpu: ["daemon": { daemon.cpuSeconds() }])
    }

    /// Runs the load; `cpu` names the processes whose CPU seconds are read at the
    /// start and the end of the measured part (`daemonCPU` is the one named daemon).
    func run(cpu meters: [String: () -> Double]) throws -> LoadResult {
        let workers = (0..<connections).map {
            let w = LoadWorker(
                index: $0, connections: connections, population: population, mix: mix,
                socketPath: socketPaths[$0 % socketPaths.count], hotpLookAhead: hotpLookAhead)
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
        let cpu0 = (meters.mapValues { $0() }, Self.ownCPUSeconds())
        Monotonic.sleep(until: schedule.end)
        let cpu1 = (meters.mapValues { $0() }, Self.ownCPUSeconds())
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
        var cores: [String: Double] = [:]
        for (name, end) in cpu1.0 { cores[name] = (end - (cpu0.0[name] ?? end)) / duration }
        return LoadResult(
            seconds: duration, latency: LatencySummary(samples), outcomes: outcomes, skipped: skipped,
            daemonCPU: cores["daemon"] ?? 0, benchCPU: (cpu1.1 - cpu0.1) / duration, cpu: cores, errors: errors)
    }

    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }
}
