import ArgumentParser
import Foundation

extension OTPGateBench {
    /// The load generator of `load`, against daemons someone else started (a tier, its
    /// relays) on a population `populate` imported: the fleet benchmark (bench/fleet.py)
    /// starts PostgreSQL, the tier and the relays, and runs this for each scenario.
    struct Drive: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send verify load to running daemons on an imported population; report throughput, latency and CPU.",
            discussion: """
                Connection i goes to the i-th --socket (round robin). Closed loop by default;
                open loop with --rate (a late answer's wait counts in its latency). --cpu
                NAME=PID (repeatable) reports the cores used by that process and all its
                descendants over the measured seconds (a daemon; a postmaster and its backends).
                """)

        @Option(name: .customLong("state-dir"), help: "The population (from populate).")
        var stateDirectory: String

        @Option(help: "A daemon's public socket (repeatable: connections are spread over them).")
        var socket: [String] = []

        @Option(help: "NAME=PID: report the cores used by PID and its descendants (repeatable; NAME may repeat: summed).")
        var cpu: [String] = []

        @OptionGroup var shape: LoadShapeOptions

        @Option(help: "A name for this scenario in the report.")
        var label = "drive"

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func run() throws {
            guard !socket.isEmpty, shape.connections >= 1, shape.duration > 0, shape.warmup >= 0 else {
                throw ValidationError("give at least one --socket, --connections of at least 1 and a positive --duration")
            }
            var groups: [String: [Int32]] = [:]
            for item in cpu {
                let parts = item.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let pid = Int32(parts[1]), pid > 0 else { throw ValidationError("--cpu takes NAME=PID, not \(item)") }
                groups[String(parts[0]), default: []].append(pid)
            }
            guard let population = try Population.open(directory: stateDirectory) else {
                throw BenchError("no population in \(stateDirectory); make one with otpgate-bench populate")
            }
            defer { population.save() }
            let machine = MachineState.summary()
            let generator = LoadGenerator(
                population: population, socketPaths: socket, connections: shape.connections, mix: shape.mix, rate: shape.rate, warmup: shape.warmup,
                duration: shape.duration)
            let result = try generator.run(cpu: groups.mapValues { pids in { pids.reduce(0) { $0 + ProcessTreeCPU.seconds(root: $1) } } })
            let report = DriveReport(
                label: label, users: population.users, kind: population.kind, sockets: socket.count, connections: shape.connections,
                rate: shape.rate, mix: shape.mix, result: result, machine: machine)
            print(json ? report.json : report.text)
            if !result.errors.isEmpty || result.outcomes.unexpected > 0 { throw ExitCode(1) }
        }
    }
}
