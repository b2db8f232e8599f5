import ArgumentParser
import Foundation
import OTPCore
import Synchronization

extension OTPGateBench {
    /// Enrols a population through a running daemon's admin socket (`admin.import`),
    /// for stores the benchmark cannot write itself: a tier's PostgreSQL, where the
    /// daemon seals each secret with the tier's key. `drive` then loads it.
    struct Populate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a benchmark population into a running otpgated (a tier node) through its admin socket.",
            discussion: """
                Writes the population's seed and size to --state-dir (which must not hold one
                yet) and imports one token per user with admin.import, mode skip: a user who
                already has a token is an error (another population is in the store).
                """)

        @Option(name: .customLong("admin-socket"), help: "The daemon's admin socket.")
        var adminSocket: String

        @Option(name: .customLong("state-dir"), help: "Where to record the population (for drive).")
        var stateDirectory: String

        @Option(help: "Users to enrol, one token each.")
        var users = 10_000

        @Option(help: "Token kind: totp or hotp.")
        var kind: Population.Kind = .totp

        @Option(help: "TOTP period in seconds (1: a fresh code per user every second).")
        var period: Int64 = 1

        @Option(help: "Imports in flight at once (one connection each).")
        var connections = 4

        func run() throws {
            guard users >= 1, connections >= 1, period >= 1 else {
                throw ValidationError("--users, --connections and --period must be at least 1")
            }
            if try Population.open(directory: stateDirectory) != nil {
                throw BenchError("\(stateDirectory) already holds a population; use another --state-dir")
            }
            let population = try Population.describe(directory: stateDirectory, users: users, kind: kind, period: period)
            let started = Monotonic.now()
            let failures = Mutex<[String]>([])
            let group = DispatchGroup()
            for c in 0..<connections {
                group.enter()
                let thread = Thread {
                    defer { group.leave() }
                    do {
                        let connection = try LineConnection(path: adminSocket)
                        for user in stride(from: c, to: users, by: connections) {
                            let reply = try connection.exchange(Self.request(population, user: user))
                            guard reply.contains(#""ok":true"#), reply.contains(#""outcome":"imported""#) else {
                                throw BenchError("import of \(Population.userName(user)): \(reply)")
                            }
                        }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
                thread.start()
            }
            group.wait()
            if let first = failures.withLock({ $0.first }) {
                // No half-made population left behind to be mistaken for a whole one.
                try? FileManager.default.removeItem(atPath: population.metadataPath)
                try? FileManager.default.removeItem(atPath: population.countersPath)
                throw BenchError(first)
            }
            let seconds = Monotonic.seconds(Monotonic.now() - started)
            print(String(format: "imported %d %@ users through %@ in %.1f s", users, kind.rawValue, adminSocket, seconds))
        }

        /// One `admin.import` line; the secret never leaves this process otherwise.
        static func request(_ population: Population, user: Int) -> String {
            let secret = Base32.encode(population.secret(of: user))
            let token =
                population.kind == .totp
                ? #"{"name":"\#(Population.tokenName)","secret":"\#(secret)","kind":"totp","algorithm":"SHA1","digits":\#(Population.digits),"period":\#(population.period)}"#
                : #"{"name":"\#(Population.tokenName)","secret":"\#(secret)","kind":"hotp","algorithm":"SHA1","digits":\#(Population.digits),"counter":0}"#
            return #"{"v":1,"op":"admin.import","user":"\#(Population.userName(user))","source":"otpgate-bench population","mode":"skip","tokens":[\#(token)]}"#
        }
    }
}
