/// Everything about a token except its secret: what an authenticator app needs to
/// produce the same codes as the server.
public struct OTPParameters: Sendable, Hashable {
    public static let digitRange = 6...8
    /// One second up to one day. Longer periods make no sense for a login code.
    public static let periodRange: ClosedRange<Int64> = 1...86_400

    public let kind: OTPKind
    public let algorithm: OTPAlgorithm
    public let digits: Int
    /// Seconds per TOTP time step; ignored for HOTP.
    public let period: Int64

    public init(
        kind: OTPKind = .totp,
        algorithm: OTPAlgorithm = .sha1,
        digits: Int = 6,
        period: Int64 = 30
    ) throws(OTPCoreError) {
        guard Self.digitRange.contains(digits) else {
            throw OTPCoreError(.invalidParameters, "digits must be 6, 7 or 8, not \(digits)")
        }
        guard Self.periodRange.contains(period) else {
            throw OTPCoreError(
                .invalidParameters,
                "period must be between 1 and 86400 seconds, not \(period)")
        }
        self.kind = kind
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
    }

    /// The defaults every authenticator app understands: TOTP, SHA-1, 6 digits, 30 s.
    public static let standard = try! OTPParameters()
}
