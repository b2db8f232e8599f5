import Foundation

/// Percentiles of a set of latencies (nanoseconds), from the sorted samples: exact,
/// no histogram buckets.
struct LatencySummary: Sendable {
    let count: Int
    let mean: Double
    let p50: UInt64
    let p90: UInt64
    let p99: UInt64
    let p999: UInt64
    let max: UInt64

    init(_ samples: [UInt64]) {
        let sorted = samples.sorted()
        count = sorted.count
        func at(_ q: Double) -> UInt64 {
            guard !sorted.isEmpty else { return 0 }
            // Nearest rank: the smallest sample with at least q of all at or below it.
            let rank = Int((q * Double(sorted.count)).rounded(.up))
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]
        }
        mean = sorted.isEmpty ? 0 : Double(sorted.reduce(0, +)) / Double(sorted.count)
        p50 = at(0.50)
        p90 = at(0.90)
        p99 = at(0.99)
        p999 = at(0.999)
        max = sorted.last ?? 0
    }

    static func ms(_ ns: UInt64) -> String { String(format: "%.3f", Double(ns) / 1e6) }

    var line: String {
        "p50 \(Self.ms(p50))  p90 \(Self.ms(p90))  p99 \(Self.ms(p99))  p99.9 \(Self.ms(p999))  max \(Self.ms(max))  mean \(String(format: "%.3f", mean / 1e6)) ms"
    }
}

extension LatencySummary {
    static func us(_ ns: UInt64) -> String { String(format: "%.1f", Double(ns) / 1e3) }

    var microsLine: String {
        "p50 \(Self.us(p50))  p99 \(Self.us(p99))  max \(Self.us(max))  mean \(String(format: "%.1f", mean / 1e3))"
    }
}
