import Synchronization

/// One attempt admitted by `StoreContract.reserveAttempt`: while it is held, the
/// limiter counts it as a failure-to-be, so no parallel attempt gets past the policy.
/// Released by the call that records its outcome, or by `release()`, or when it is
/// dropped (so an error path cannot leave a user blocked).
///
/// What holding it means is the backend's: the SQLite store counts it in memory and
/// gives it back on release; a backend that counts the attempt in its database at
/// reservation has nothing to give back (`onRelease` nil).
public final class AttemptReservation: Sendable {
    public let user: String
    public let rhost: String?
    /// The backend's own id of the user (nil for a user it does not know).
    package let userID: Int64?
    /// The backend's number for this attempt, where it counts attempts in its database
    /// at reservation (the PostgreSQL store); a success takes back counts up to it.
    package let attempt: Int?
    private let onRelease: (@Sendable () -> Void)?
    private let released = Atomic<Bool>(false)

    package init(user: String, userID: Int64?, rhost: String?, attempt: Int? = nil, onRelease: (@Sendable () -> Void)?) {
        self.user = user
        self.userID = userID
        self.attempt = attempt
        self.rhost = rhost
        self.onRelease = onRelease
    }

    /// Gives the attempt back; only the first call counts.
    public func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        onRelease?()
    }

    deinit { release() }
}
