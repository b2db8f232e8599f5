import Foundation

/// The figures of one `drive` run, as text for people or JSON for scripts.
struct DriveReport {
    var label: String
    var users: Int
    var kind: Population.Kind
    var sockets: Int
    var connections: Int
    var rate: Double?
    var mix: RequestMix
    var result: LoadResult
    var machine: String

    /// CPU per verify of each named group, in microseconds.
    var cpuPerVerify: [String: Double] {
        result.cpu.mapValues { $0 * 1e6 / max(result.throughput, 1e-9) }
    }

    var text: String {
        let r = result
        var lines = [
            "== \(label): \(users) \(kind.rawValue) users, \(connections) connections over \(sockets) sockets, mix \(mix)"
                + (rate.map { String(format: ", open loop %.0f/s", $0) } ?? ", closed loop"),
            String(format: "throughput   %.0f verifies/s (%d in %.1f s)", r.throughput, r.latency.count, r.seconds),
            "latency ms   " + r.latency.line,
            "answers      accepted \(r.outcomes.accepted), invalid \(r.outcomes.invalid), replayed \(r.outcomes.replayed), "
                + "rate_limited \(r.outcomes.rateLimited), other errors \(r.outcomes.otherErrors), unexpected \(r.outcomes.unexpected)"
                + (r.skipped > 0 ? ", skipped (no fresh TOTP step) \(r.skipped)" : ""),
        ]
        let perVerify = cpuPerVerify
        let cpu = r.cpu.keys.sorted().map { String(format: "%@ %.2f cores (%.0f µs/verify)", $0, r.cpu[$0]!, perVerify[$0]!) }
        lines.append("cpu          " + (cpu + [String(format: "load generator %.2f cores", r.benchCPU)]).joined(separator: ", "))
        lines.append("machine      \(machine) (at start)")
        lines += r.errors.prefix(5).map { "error        \($0)" }
        return lines.joined(separator: "\n")
    }

    var json: String {
        let r = result
        var cores = r.cpu
        cores["bench"] = r.benchCPU
        var object: [String: Any] = [
            "label": label, "users": users, "kind": kind.rawValue, "sockets": sockets, "connections": connections,
            "mix": mix.description, "throughput": r.throughput, "verifies": r.latency.count, "seconds": r.seconds,
            "latency_ms": r.latencyJSON, "answers": r.answersJSON,
            "cpu_cores": cores, "cpu_us_per_verify": cpuPerVerify, "errors": r.errors, "machine": machine,
        ]
        if let rate { object["rate"] = rate }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
