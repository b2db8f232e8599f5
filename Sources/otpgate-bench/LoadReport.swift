import Foundation

/// The figures of one `load` run, as text for people or JSON for scripts.
struct LoadReport {
    var label: String
    var users: Int
    var kind: Population.Kind
    var connections: Int
    var rate: Double?
    var mix: RequestMix
    var workerThreads: Int?
    var enrolSeconds: Double?
    var readyMS: Double
    var idleMemory: (rss: Int, peak: Int)
    var loadedMemory: (rss: Int, peak: Int, anon: Int, file: Int)
    var result: LoadResult
    var writes: (transactions: Int, writes: Int)?
    var fsyncs: (calls: Int, verifies: Int)?
    var exitStatus: Int32
    var machine: String

    private func mb(_ kib: Int) -> String { String(format: "%.1f", Double(kib) / 1024) }

    var text: String {
        let r = result
        var lines = [
            "== \(label): \(users) \(kind.rawValue) users, \(connections) connections, mix \(mix)"
                + (workerThreads.map { ", worker_threads \($0)" } ?? ""),
            String(format: "throughput   %.0f verifies/s (%d in %.1f s)", r.throughput, r.latency.count, r.seconds),
            "latency ms   " + r.latency.line,
            "answers      accepted \(r.outcomes.accepted), invalid \(r.outcomes.invalid), replayed \(r.outcomes.replayed), "
                + "rate_limited \(r.outcomes.rateLimited), other errors \(r.outcomes.otherErrors), unexpected \(r.outcomes.unexpected)"
                + (r.skipped > 0 ? ", skipped (no fresh TOTP step) \(r.skipped)" : ""),
            String(format: "cpu          daemon %.2f cores, load generator %.2f cores", r.daemonCPU, r.benchCPU),
            "daemon       ready " + String(format: "%.1f", readyMS) + " ms after spawn; RSS \(mb(idleMemory.rss)) MB idle, "
                + "\(mb(loadedMemory.rss)) MB after load (anon \(mb(loadedMemory.anon)) + file \(mb(loadedMemory.file)); peak \(mb(loadedMemory.peak)) MB)",
        ]
        if let enrolSeconds { lines.append(String(format: "enrolment    %d users in %.1f s", users, enrolSeconds)) }
        lines.append("machine      \(machine) (at start)")
        if let writes {
            lines.append(String(
                format: "store        %d write transactions for %d writes (%.1f writes per commit), whole daemon run",
                writes.transactions, writes.writes, Double(writes.writes) / Double(max(writes.transactions, 1))))
        }
        if let fsyncs {
            lines.append(String(
                format: "fsync pass   %d fsync+fdatasync for %d verifies under strace = %.3f per verify",
                fsyncs.calls, fsyncs.verifies, Double(fsyncs.calls) / Double(max(fsyncs.verifies, 1))))
        }
        if exitStatus != 0 { lines.append("daemon exit status \(exitStatus) (expected 0)") }
        lines += r.errors.prefix(5).map { "error        \($0)" }
        return lines.joined(separator: "\n")
    }

    var json: String {
        let r = result
        var object: [String: Any] = [
            "label": label, "users": users, "kind": kind.rawValue, "connections": connections, "mix": mix.description,
            "throughput": r.throughput, "verifies": r.latency.count, "seconds": r.seconds,
            "latency_ms": r.latencyJSON, "answers": r.answersJSON,
            "cpu_cores": ["daemon": r.daemonCPU, "bench": r.benchCPU],
            "ready_ms": readyMS,
            "rss_kib": [
                "idle": idleMemory.rss, "loaded": loadedMemory.rss, "peak": loadedMemory.peak, "loaded_anon": loadedMemory.anon,
                "loaded_file": loadedMemory.file,
            ],
            "errors": r.errors, "daemon_exit": Int(exitStatus), "machine": machine,
        ]
        if let rate { object["rate"] = rate }
        if let workerThreads { object["worker_threads"] = workerThreads }
        if let enrolSeconds { object["enrol_seconds"] = enrolSeconds }
        if let writes { object["store"] = ["transactions": writes.transactions, "writes": writes.writes] }
        if let fsyncs { object["fsync_pass"] = ["calls": fsyncs.calls, "verifies": fsyncs.verifies] }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
