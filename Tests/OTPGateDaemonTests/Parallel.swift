import Dispatch
import Foundation
import OTPGateTestSupport
import Synchronization

/// Runs work on many real threads at once, with a starting gate: each thread does
/// its setup (connect, a first request), calls `gate()`, and continues only when
/// every thread has reached its gate, so the requests after it race for real.
enum Parallel {
    static func run<T: Sendable>(_ count: Int, _ work: @escaping @Sendable (_ index: Int, _ gate: () -> Void) -> T) -> [T] {
        let results = Mutex<[Int: T]>([:])
        let ready = DispatchGroup()
        let done = DispatchGroup()
        let go = DispatchSemaphore(value: 0)
        for index in 0..<count {
            ready.enter()
            done.enter()
            Thread {
                var passed = false
                let result = work(index) {
                    guard !passed else { return }
                    passed = true
                    ready.leave()
                    go.wait()
                }
                if !passed { ready.leave() }  // the work ended before its gate
                results.withLock { $0[index] = result }
                done.leave()
            }.start()
        }
        ready.wait()
        for _ in 0..<count { go.signal() }
        done.wait()
        return results.withLock { r in (0..<count).compactMap { r[$0] } }
    }
}
