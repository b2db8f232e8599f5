/// How failures slow a user down.
///
/// Two counters: one per user and remote host, which backs off early so one guessing
/// host is slowed quickly, and one per user over all hosts, which backs off later and
/// locks the user out after `lockoutFailures` consecutive failures until an admin
/// unlocks them (NIST SP 800-63B §5.2.2 caps consecutive failures at 100).
public struct LimiterPolicy: Sendable, Hashable {
    /// Failures from one host before that host has to wait.
    public var freePerHost: Int
    /// Failures over all hosts before the user has to wait.
    public var freePerUser: Int
    /// The first wait, doubled with every further failure.
    public var baseDelay: Int64
    public var maxDelay: Int64
    public var lockoutFailures: Int

    public init(
        freePerHost: Int = 3, freePerUser: Int = 10, baseDelay: Int64 = 2, maxDelay: Int64 = 900,
        lockoutFailures: Int = 100
    ) {
        self.freePerHost = freePerHost
        self.freePerUser = freePerUser
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.lockoutFailures = lockoutFailures
    }

    public static let standard = LimiterPolicy()

    /// Seconds to wait after `failures` consecutive failures, when `free` come free.
    package func delay(failures: Int, free: Int) -> Int64 {
        guard failures >= free else { return 0 }
        let doublings = min(failures - free, 30)
        return min(baseDelay << Int64(doublings), maxDelay)
    }
}
