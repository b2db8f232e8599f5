/// What one load pass measured.
struct LoadResult: Sendable {
    var seconds: Double
    var latency: LatencySummary
    var outcomes: Outcomes
    var skipped: Int
    var daemonCPU: Double
    var benchCPU: Double
    /// Cores used by each process group named to the generator (drive's --cpu).
    var cpu: [String: Double]
    var errors: [String]

    var throughput: Double { Double(latency.count) / seconds }

    /// The report's `latency_ms` object.
    var latencyJSON: [String: Double] {
        [
            "p50": Double(latency.p50) / 1e6, "p90": Double(latency.p90) / 1e6, "p99": Double(latency.p99) / 1e6,
            "p99.9": Double(latency.p999) / 1e6, "max": Double(latency.max) / 1e6, "mean": latency.mean / 1e6,
        ]
    }

    /// The report's `answers` object.
    var answersJSON: [String: Int] {
        [
            "accepted": outcomes.accepted, "invalid": outcomes.invalid, "replayed": outcomes.replayed,
            "rate_limited": outcomes.rateLimited, "other_errors": outcomes.otherErrors, "unexpected": outcomes.unexpected,
            "skipped": skipped,
        ]
    }
}
