/// HMAC-based one-time passwords (RFC 4226), the building block of TOTP too.
public enum HOTP {
    /// The code for `counter`, as `digits` ASCII digits (leading zeros kept).
    public static func code(
        secret: [UInt8], counter: UInt64, algorithm: OTPAlgorithm = .sha1, digits: Int = 6
    ) -> [UInt8] {
        precondition(!secret.isEmpty, "an OTP secret is never empty")
        precondition(OTPParameters.digitRange.contains(digits))
        return Generator(secret: secret, algorithm: algorithm, digits: digits).code(counter: counter)
    }

    /// The same, as a `String`, for display and tests.
    public static func codeString(
        secret: [UInt8], counter: UInt64, algorithm: OTPAlgorithm = .sha1, digits: Int = 6
    ) -> String {
        String(decoding: code(secret: secret, counter: counter, algorithm: algorithm, digits: digits), as: UTF8.self)
    }

    /// Codes of one secret for many counters, with the HMAC key prepared once (what
    /// checking a code against a window or a look-ahead needs).
    struct Generator: ~Copyable {
        private let hmac: HMAC
        private let digits: Int
        private let modulus: UInt32

        init(secret: [UInt8], algorithm: OTPAlgorithm, digits: Int) {
            precondition(!secret.isEmpty, "an OTP secret is never empty")
            precondition(OTPParameters.digitRange.contains(digits))
            hmac = HMAC(algorithm, key: secret)
            self.digits = digits
            var p: UInt32 = 1
            for _ in 0..<digits { p *= 10 }
            modulus = p
        }

        func code(counter: UInt64) -> [UInt8] {
            var message = counter.bigEndian
            // EVP_MAX_MD_SIZE (64) bytes on the stack, no allocation per code.
            var mac: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
            let binary = withUnsafeBytes(of: &message) { m in
                withUnsafeMutableBytes(of: &mac) { out -> UInt32 in
                    let n = hmac.authenticate(UnsafeRawBufferPointer(m), into: out)
                    // Dynamic truncation, RFC 4226 §5.3.
                    let offset = Int(out[n - 1] & 0x0f)
                    return UInt32(out[offset] & 0x7f) << 24 | UInt32(out[offset + 1]) << 16
                        | UInt32(out[offset + 2]) << 8 | UInt32(out[offset + 3])
                }
            }
            var value = binary % modulus
            var code = [UInt8](repeating: UInt8(ascii: "0"), count: digits)
            for i in stride(from: digits - 1, through: 0, by: -1) {
                code[i] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
            return code
        }
    }
}
