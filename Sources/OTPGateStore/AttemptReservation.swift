import Synchronization

/// One attempt admitted by `OTPStore.reserveAttempt`: while it is held, the limiter
/// counts it as a failure-to-be, so no parallel attempt gets past the policy.
/// Released by the call that records its outcome, or by `release()`, or when it is
/// dropped (so an error path cannot leave a user blocked).
public final class AttemptReservation: Sendable {
    public let user: String
    let userID: Int64?
    let rhost: String?
    private let limiter: AttemptLimiter
    private let released = Atomic<Bool>(false)

    init(user: String, userID: Int64?, rhost: String?, limiter: AttemptLimiter) {
        self.user = user
        self.userID = userID
        self.rhost = rhost
        self.limiter = limiter
    }

    /// Gives the attempt back; only the first call counts.
    public func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing), let userID else { return }
        limiter.release(userID: userID, rhost: rhost)
    }

    deinit { release() }
}
