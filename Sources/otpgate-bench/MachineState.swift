import Foundation

/// How busy the machine was: figures from a shared machine mean little without it.
enum MachineState {
    /// "load 1.23 0.98 0.75, cpu pressure 12.3%" from /proc/loadavg and /proc/pressure/cpu.
    static func summary() -> String {
        var parts: [String] = []
        if let load = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
            parts.append("load " + load.split(separator: " ").prefix(3).joined(separator: " "))
        }
        if let pressure = try? String(contentsOfFile: "/proc/pressure/cpu", encoding: .utf8),
            let some = pressure.split(separator: "\n").first,
            let avg = some.split(separator: " ").first(where: { $0.hasPrefix("avg10=") })
        {
            parts.append("cpu pressure (avg10) \(avg.dropFirst(6))%")
        }
        parts.append("\(ProcessInfo.processInfo.activeProcessorCount) cpus")
        return parts.joined(separator: ", ")
    }
}
