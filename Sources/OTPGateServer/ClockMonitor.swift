internal import COTPGateSystem
public import Logging
import Synchronization

/// Whether the kernel says the system clock is NTP-synchronised (adjtimex(2)).
/// TOTP depends on it: a clock that drifts past the window locks everyone out.
public final class ClockMonitor: Sendable {
    /// What the kernel says: adjtimex's state (1: synchronised, 0: not, -1: the call
    /// failed) and its maximum error in microseconds.
    public typealias Probe = @Sendable () -> (state: Int32, maxErrorMicroseconds: Int)

    private let synced = Atomic<Bool>(false)
    private let logger: Logger
    private let probe: Probe

    /// `probe` is the kernel's adjtimex(2) unless a test gives its own.
    public init(logger: Logger, probe: @escaping Probe = ClockMonitor.adjtimex) {
        self.logger = logger
        self.probe = probe
    }

    public static let adjtimex: Probe = {
        var maxError = 0
        let state = otpgate_clock_synced(&maxError)
        return (state, maxError)
    }

    public var isSynchronized: Bool { synced.load(ordering: .relaxed) }

    /// Reads the state now; logs a warning on every check that finds it unsynchronised
    /// and a notice when it becomes synchronised again.
    @discardableResult
    public func check() -> Bool {
        let (state, maxError) = probe()
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
