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

    public init(version: String, uptime: Int, clockSynced: Bool, store: String, storeDetail: String? = nil) {
        self.version = version
        self.uptime = uptime
        self.clockSynced = clockSynced
        self.store = store
        self.storeDetail = storeDetail
    }

    enum CodingKeys: String, CodingKey {
        case version, uptime, store
        case clockSynced = "clock_synced"
        case storeDetail = "store_detail"
    }
}
