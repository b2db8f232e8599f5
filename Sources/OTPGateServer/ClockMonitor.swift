internal import COTPGateSystem
public import Logging
import Synchronization

/// Whether the kernel says the system clock is NTP-synchronised (adjtimex(2)).
/// TOTP depends on it: a clock that drifts past the window locks everyone out.
public final class ClockMonitor: Sendable {
    private let synced = Atomic<Bool>(false)
    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public var isSynchronized: Bool { synced.load(ordering: .relaxed) }

    /// Reads the state now; logs a warning on every check that finds it unsynchronised
    /// and a notice when it becomes synchronised again.
    @discardableResult
    public func check() -> Bool {
        var maxError = 0
        let state = otpgate_clock_synced(&maxError)
        let now = state == 1
        let before = synced.exchange(now, ordering: .relaxed)
        if !now {
            logger.warning(
                "system clock is not NTP-synchronised; TOTP codes fail once it drifts past the window",
                metadata: ["clock.max_error_us": "\(maxError)", "clock.adjtimex": "\(state)"])
        } else if !before {
            logger.notice("system clock is NTP-synchronised", metadata: ["clock.max_error_us": "\(maxError)"])
        }
        return now
    }
}
