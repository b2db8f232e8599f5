/// The `[limiter]` table of otpgated.toml, with its documented defaults. The daemon
/// hands these to the store as its `LimiterPolicy` (this module links no store, so
/// that the CLI can read the config for `doctor` without it).
public struct LimiterSettings: Sendable, Hashable {
    public var freePerHost = 3
    public var freePerUser = 10
    public var baseDelay: Int64 = 2
    public var maxDelay: Int64 = 900
    public var lockoutFailures = 100

    public init() {}
}
