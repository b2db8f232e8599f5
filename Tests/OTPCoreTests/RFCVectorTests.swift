import OTPCore
import Testing

/// Test vectors printed in the RFCs themselves.
@Suite("RFC test vectors")
struct RFCVectorTests {
    static let rfc4226Secret = Array("12345678901234567890".utf8)

    /// RFC 4226 Appendix D: HOTP-SHA1, 6 digits, counters 0-9.
    @Test("RFC 4226 Appendix D", arguments: [
        (0, "755224"), (1, "287082"), (2, "359152"), (3, "969429"), (4, "338314"),
        (5, "254676"), (6, "287922"), (7, "162583"), (8, "399871"), (9, "520489"),
    ])
    func rfc4226(counter: UInt64, expected: String) {
        #expect(HOTP.codeString(secret: Self.rfc4226Secret, counter: counter) == expected)
    }

    static let seeds: [OTPAlgorithm: [UInt8]] = [
        .sha1: Array("12345678901234567890".utf8),
        .sha256: Array("12345678901234567890123456789012".utf8),
        .sha512: Array("1234567890123456789012345678901234567890123456789012345678901234".utf8),
    ]

    /// RFC 6238 Appendix B: TOTP, 8 digits, 30 s steps, all three hashes, including
    /// T = 20000000000 (a step count past 2^32 seconds, i.e. past 2038 and 2106).
    @Test("RFC 6238 Appendix B", arguments: [
        (Int64(59), OTPAlgorithm.sha1, "94287082"),
        (59, .sha256, "46119246"),
        (59, .sha512, "90693936"),
        (1_111_111_109, .sha1, "07081804"),
        (1_111_111_109, .sha256, "68084774"),
        (1_111_111_109, .sha512, "25091201"),
        (1_111_111_111, .sha1, "14050471"),
        (1_111_111_111, .sha256, "67062674"),
        (1_111_111_111, .sha512, "99943326"),
        (1_234_567_890, .sha1, "89005924"),
        (1_234_567_890, .sha256, "91819424"),
        (1_234_567_890, .sha512, "93441116"),
        (2_000_000_000, .sha1, "69279037"),
        (2_000_000_000, .sha256, "90698825"),
        (2_000_000_000, .sha512, "38618901"),
        (20_000_000_000, .sha1, "65353130"),
        (20_000_000_000, .sha256, "77737706"),
        (20_000_000_000, .sha512, "47863826"),
    ])
    func rfc6238(time: Int64, algorithm: OTPAlgorithm, expected: String) throws {
        let secret = try #require(Self.seeds[algorithm])
        #expect(try TOTP.code(secret: secret, at: time, algorithm: algorithm, digits: 8) == expected)
        // The verifier must accept the same vector at the same time, with no window.
        let parameters = try OTPParameters(algorithm: algorithm, digits: 8)
        let result = try OTPVerifier.verifyTOTP(
            code: expected, secret: secret, parameters: parameters, at: time, window: 0,
            watermark: nil)
        #expect(result == .accepted(counter: UInt64(time / 30), drift: 0))
    }

    @Test("time steps are 64-bit")
    func stepsPast2038() {
        #expect(TOTP.step(at: 20_000_000_000, period: 30) == 666_666_666)
        #expect(TOTP.step(at: Int64.max, period: 1) == UInt64(Int64.max))
        #expect(TOTP.step(at: -1, period: 30) == nil)
    }
}
