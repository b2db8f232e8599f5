/// What one load pass measured.
struct LoadResult: Sendable {
    var seconds: Double
    var latency: LatencySummary
    var outcomes: Outcomes
    var skipped: Int
    var daemonCPU: Double
    var benchCPU: Double
    var errors: [String]

    var throughput: Double { Double(latency.count) / seconds }
}
