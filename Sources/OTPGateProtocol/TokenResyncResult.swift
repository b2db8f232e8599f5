/// The result of `token.resync`.
public struct TokenResyncResult: ReplyResult, Hashable {
    /// The token's id and name.
    public var token: String
    public var name: String
    public var kind: TokenKind
    /// TOTP: steps the device's clock is ahead (+) or behind (-) of the daemon's.
    /// HOTP: counters the device had moved past the last accepted one.
    public var drift: Int
    /// TOTP: the drift in seconds.
    public var seconds: Int?

    public init(token: String, name: String, kind: TokenKind, drift: Int, seconds: Int?) {
        self.token = token
        self.name = name
        self.kind = kind
        self.drift = drift
        self.seconds = seconds
    }
}
