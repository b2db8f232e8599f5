/// Time-based one-time passwords (RFC 6238) with T0 = 0.
///
/// Time is always a parameter (seconds since the Unix epoch, 64-bit, so past 2038);
/// nothing here reads a clock.
public enum TOTP {
    /// The time step that `unixTime` falls in, or nil before the epoch.
    public static func step(at unixTime: Int64, period: Int64) -> UInt64? {
        precondition(period >= 1)
        guard unixTime >= 0 else { return nil }
        return UInt64(unixTime / period)
    }

    /// The code valid at `unixTime`.
    public static func code(
        secret: [UInt8], at unixTime: Int64, algorithm: OTPAlgorithm = .sha1,
        digits: Int = 6, period: Int64 = 30
    ) throws(OTPCoreError) -> String {
        guard let step = step(at: unixTime, period: period) else {
            throw OTPCoreError(.invalidParameters, "time is before the Unix epoch")
        }
        return HOTP.codeString(secret: secret, counter: step, algorithm: algorithm, digits: digits)
    }
}
