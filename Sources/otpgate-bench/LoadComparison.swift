import Foundation

/// otpgated beside the floor server on the same scenario. Every figure is otpgated's
/// divided by the floor's: throughput below 1, or latency and CPU per request above
/// 1, is how far otpgated stays from the floor.
struct LoadComparison {
    var daemon: LoadResult
    var floor: LoadResult

    struct Summary {
        var label: String
        var rounds: [LoadComparison]

        private func ratios(_ f: (LoadResult) -> Double) -> [Double] {
            rounds.map { f($0.daemon) / max(f($0.floor), 1e-12) }
        }

        private func cpuPerRequest(_ r: LoadResult) -> Double {
            (r.daemonCPU * r.seconds) / Double(max(r.latency.count, 1)) * 1e6
        }

        private func format(_ values: [Double]) -> String {
            values.map { String(format: "%.2f", $0) }.joined(separator: " / ")
        }

        var text: String {
            let tput = ratios { $0.throughput }
            let p50 = ratios { Double($0.latency.p50) }
            let p99 = ratios { Double($0.latency.p99) }
            let cpu = ratios { cpuPerRequest($0) }
            var lines = ["== \(label): otpgated / floor, \(rounds.count) round(s), each figure per round"]
            lines.append("throughput   " + format(tput) + "  (otpgated " + rounds.map { String(format: "%.0f", $0.daemon.throughput) }.joined(separator: " / ")
                + "/s, floor " + rounds.map { String(format: "%.0f", $0.floor.throughput) }.joined(separator: " / ") + "/s)")
            lines.append("latency p50  " + format(p50) + "  (otpgated " + rounds.map { ms($0.daemon.latency.p50) }.joined(separator: " / ")
                + " ms, floor " + rounds.map { ms($0.floor.latency.p50) }.joined(separator: " / ") + " ms)")
            lines.append("latency p99  " + format(p99) + "  (otpgated " + rounds.map { ms($0.daemon.latency.p99) }.joined(separator: " / ")
                + " ms, floor " + rounds.map { ms($0.floor.latency.p99) }.joined(separator: " / ") + " ms)")
            lines.append("cpu/request  " + format(cpu) + "  (otpgated " + rounds.map { String(format: "%.0f", cpuPerRequest($0.daemon)) }.joined(separator: " / ")
                + " µs, floor " + rounds.map { String(format: "%.0f", cpuPerRequest($0.floor)) }.joined(separator: " / ") + " µs)")
            return lines.joined(separator: "\n")
        }

        var json: String {
            let object: [String: Any] = [
                "label": label, "comparison": "otpgated / floor",
                "throughput_ratio": ratios { $0.throughput }, "p50_ratio": ratios { Double($0.latency.p50) },
                "p99_ratio": ratios { Double($0.latency.p99) }, "cpu_per_request_ratio": ratios { cpuPerRequest($0) },
                "floor_throughput": rounds.map { $0.floor.throughput }, "floor_p99_ms": rounds.map { Double($0.floor.latency.p99) / 1e6 },
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }

        private func ms(_ ns: UInt64) -> String { String(format: "%.2f", Double(ns) / 1e6) }
    }

    static func summary(_ rounds: [LoadComparison], label: String) -> Summary {
        Summary(label: label, rounds: rounds)
    }
}
