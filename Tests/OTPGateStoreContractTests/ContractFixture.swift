import Dispatch
import Foundation
import OTPCore
import OTPGateStoreContract
import Synchronization

/// What the contract tests share: enrolling a token and running threads at once.
extension ContractStore {
    var now: Int64 { Self.wallClock() }

    /// Enrols an HOTP token for `user`, confirmed at counter `counter` (so its
    /// watermark is `counter`). HOTP keeps the tests off the clock.
    @discardableResult
    func enrolHOTP(_ user: String, name: String = "key", counter: UInt64 = 0, recovery: Bool = false) throws -> (token: TokenInfo, secret: [UInt8], codes: [String]) {
        let secret = try OTPSecret.generate()
        let p = try store.beginEnrollment(
            user: user, name: name, parameters: try OTPParameters(kind: .hotp), secret: secret, initialCounter: 0,
            now: now, ttl: 300, audit: AuditEvent(time: now, event: "enroll.begin", user: user))
        let batch = recovery ? try RecoveryCodeBatch.generate(count: 4, hasher: Self.hasher, user: user) : nil
        let (token, _) = try store.confirmEnrollment(
            id: p.id, user: user, counter: counter, drift: 0, recoveryCodes: batch, now: now,
            audit: { t, _ in AuditEvent(time: now, event: "enroll.confirm", user: user, detail: "token \(t.name)") })
        return (token, secret, batch?.codes ?? [])
    }

    /// How many audit rows of `event` the store holds for `user`.
    func auditCount(_ event: String, user: String) throws -> Int {
        try store.auditEvents(user: user, since: nil, limit: 10_000).filter { $0.event == event }.count
    }
}

/// Runs `count` threads that start together; returns how many returned true.
func together(_ count: Int, _ work: @escaping @Sendable (Int) -> Bool) -> Int {
    let yes = Atomic<Int>(0)
    let start = DispatchSemaphore(value: 0)
    let done = DispatchGroup()
    for i in 0..<count {
        done.enter()
        Thread {
            start.wait()
            if work(i) { yes.add(1, ordering: .relaxed) }
            done.leave()
        }.start()
    }
    for _ in 0..<count { start.signal() }
    done.wait()
    return yes.load(ordering: .relaxed)
}
