public import OTPGateConfig
public import OTPGateStoreContract

extension LimiterPolicy {
    /// The policy the config's `[limiter]` table describes.
    public init(_ settings: LimiterSettings) {
        self.init(
            freePerHost: settings.freePerHost, freePerUser: settings.freePerUser, baseDelay: settings.baseDelay,
            maxDelay: settings.maxDelay, lockoutFailures: settings.lockoutFailures)
    }
}
