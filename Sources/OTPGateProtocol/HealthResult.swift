/// The result of `health`.
public struct HealthResult: ReplyResult, Hashable {
    /// The daemon's version string.
    public var version: String
    /// Seconds since the daemon started.
    public var uptime: Int
    /// Whether the kernel reports the system clock as NTP-synchronised (TOTP needs it).
    public var clockSynced: Bool
    /// The store's state: "ok", or a short word for what is wrong ("unavailable",
    /// "writes_refused").
    public var store: String
    /// Why, in one line, where the store says more (a shared database: whether writes
    /// are allowed and the settings seen); absent otherwise.
    public var storeDetail: String?
    /// The answering daemon's clock, Unix seconds: a relay's doctor compares the
    /// tier's with its own. Absent from daemons older than relays.
    public var time: Int64?
    /// "relay" when a relay answered (`store` is then the tier's store, as the tier
    /// said); absent from a daemon that verifies itself.
    public var mode: String?
    /// On a relay: the tier node that answered (`host:port`), if one did.
    public var tier: String?
    /// On a relay: that node's `time`.
    public var tierTime: Int64?

    public init(
        version: String, uptime: Int, clockSynced: Bool, store: String, storeDetail: String? = nil, time: Int64? = nil,
        mode: String? = nil, tier: String? = nil, tierTime: Int64? = nil
    ) {
        self.version = version
        self.uptime = uptime
        self.clockSynced = clockSynced
        self.store = store
        self.storeDetail = storeDetail
        self.time = time
        self.mode = mode
        self.tier = tier
        self.tierTime = tierTime
    }

    enum CodingKeys: String, CodingKey {
        case version, uptime, store, time, mode, tier
        case clockSynced = "clock_synced"
        case storeDetail = "store_detail"
        case tierTime = "tier_time"
    }
}
