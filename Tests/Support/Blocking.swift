import Foundation

/// Runs blocking work (waiting for a program, a socket, a deadline) on a thread of its
/// own and awaits its result. Neither Swift's cooperative pool nor Dispatch's global
/// queues are used: other test targets in the same `swift test` process block those few
/// threads (one per CPU) for seconds at a time, and a deadline measured across such a
/// wait would expire while nothing was even tried.
package func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
