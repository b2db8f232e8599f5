import Foundation
import Glibc

/// CPU seconds (user + system) of a process and all its descendants alive now, from
/// /proc: a PostgreSQL server is a postmaster and one backend per connection, and
/// what a verify costs there is the sum of them. A backend that exits between two
/// readings takes its seconds with it, so measure with the connections held open.
enum ProcessTreeCPU {
    static func seconds(root: Int32) -> Double {
        var stats: [(pid: Int32, ppid: Int32, seconds: Double)] = []
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name),
                let text = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let close = text.lastIndex(of: ")")
            else { continue }
            // After "(comm)": state, ppid (field 4) ... utime (14), stime (15).
            let fields = text[text.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let ppid = Int32(fields[1]), let user = Double(fields[11]), let system = Double(fields[12])
            else { continue }
            stats.append((pid, ppid, (user + system) / ticks))
        }
        var inside: Set<Int32> = [root]
        var grew = true
        while grew {
            grew = false
            for s in stats where !inside.contains(s.pid) && inside.contains(s.ppid) {
                inside.insert(s.pid)
                grew = true
            }
        }
        return stats.filter { inside.contains($0.pid) }.reduce(0) { $0 + $1.seconds }
    }
}
