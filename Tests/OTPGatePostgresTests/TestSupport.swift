import Foundation
import Logging
import NIOCore
import NIOPosix
import OTPGatePostgres
import PostgresNIO
import Testing

let testLogger: Logger = {
    var logger = Logger(label: "otpgate.postgres.tests")
    logger.logLevel = .critical
    return logger
}()

/// Seconds on the monotonic clock since `start`.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// Runs `body` on a new thread (not an event loop, not the cooperative pool), as the
/// daemon's request threads call the store.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.start()
    }
}

/// The error of a blocking call and how long it took; nil error on success.
struct Timed: Sendable {
    let rows: [PostgresResultRow]?
    let error: PostgresStoreError?
    let elapsed: Double
}

func timedRun(_ pool: PostgresPool, _ name: String, _ binds: [PostgresValue] = [], within: Duration? = nil) async -> Timed {
    await onThread {
        let start = ContinuousClock.now
        do throws(PostgresStoreError) {
            let rows = try pool.run(name, binds: binds, deadline: within.map { start + $0 })
            return Timed(rows: rows, error: nil, elapsed: seconds(since: start))
        } catch {
            return Timed(rows: nil, error: error, elapsed: seconds(since: start))
        }
    }
}

func int(_ row: PostgresResultRow?, _ column: Int = 0) -> Int64? {
    try? row?.decode(Int64.self, column: column)
}

/// Polls `condition` (a fact we can ask, not a sleep for an outcome) until it holds or
/// `timeout` passes.
func eventually(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let start = ContinuousClock.now
    repeat {
        if try condition() { return true }
        usleep(20_000)
    } while seconds(since: start) < timeout
    return try condition()
}
