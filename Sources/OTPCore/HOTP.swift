/// HMAC-based one-time passwords (RFC 4226), the building block of TOTP too.
public enum HOTP {
    /// The code for `counter`, as `digits` ASCII digits (leading zeros kept).
    public static func code(
        secret: [UInt8], counter: UInt64, algorithm: OTPAlgorithm = .sha1, digits: Int = 6
    ) -> [UInt8] {
        precondition(!secret.isEmpty, "an OTP secret is never empty")
        precondition(OTPParameters.digitRange.contains(digits))
        let message = (0..<8).map { UInt8(truncatingIfNeeded: counter >> (56 - 8 * $0)) }
        let mac = HMAC.authenticate(algorithm, key: secret, message: message)
        // Dynamic truncation, RFC 4226 §5.3.
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let binary =
            UInt32(mac[offset] & 0x7f) << 24 | UInt32(mac[offset + 1]) << 16
            | UInt32(mac[offset + 2]) << 8 | UInt32(mac[offset + 3])
        var value = binary % powerOfTen(digits)
        var out = [UInt8](repeating: UInt8(ascii: "0"), count: digits)
        for i in stride(from: digits - 1, through: 0, by: -1) {
            out[i] = UInt8(ascii: "0") + UInt8(value % 10)
            value /= 10
        }
        return out
    }

    /// The same, as a `String`, for display and tests.
    public static func codeString(
        secret: [UInt8], counter: UInt64, algorithm: OTPAlgorithm = .sha1, digits: Int = 6
    ) -> String {
        String(decoding: code(secret: secret, counter: counter, algorithm: algorithm, digits: digits), as: UTF8.self)
    }

    private static func powerOfTen(_ n: Int) -> UInt32 {
        var p: UInt32 = 1
        for _ in 0..<n { p *= 10 }
        return p
    }
}
