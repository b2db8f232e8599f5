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
}
