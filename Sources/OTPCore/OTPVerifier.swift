/// Why a code was not accepted.
public enum VerificationFailure: String, Sendable, Hashable {
    /// Not N ASCII digits: it was never compared with anything.
    case malformed
    /// It matches no step or counter in the window.
    case noMatch
    /// It matches a step or counter at or below the watermark: it was used already,
    /// or a later one was.
    case replayed
}

/// The result of checking one code against one token.
public enum VerificationResult: Sendable, Hashable {
    /// The code matched `counter` (the TOTP time step or the HOTP counter), which is
    /// above the watermark. `drift` is how far `counter` lies from the expected one:
    /// for TOTP, steps ahead (+) or behind (-) of the clock; for HOTP, how many
    /// counters the token skipped.
    case accepted(counter: UInt64, drift: Int)
    case rejected(VerificationFailure)
}

/// Checks codes against a token, honouring a replay watermark.
///
/// Every candidate in the window is computed and compared in constant time, whether
/// or not an earlier one matched, so the time taken does not tell which one matched.
public enum OTPVerifier {
    public static let maxWindow = 10
    public static let maxLookAhead = 100

    /// TOTP: accepts a code for any step in `current - window ... current + window`
    /// that lies above `watermark` (the last accepted step; nil when none was).
    public static func verifyTOTP(
        code input: String, secret: [UInt8], parameters: OTPParameters, at unixTime: Int64,
        window: Int = 1, watermark: UInt64?
    ) throws(OTPCoreError) -> VerificationResult {
        guard (0...maxWindow).contains(window) else {
            throw OTPCoreError(.invalidParameters, "window must be between 0 and \(maxWindow) steps")
        }
        guard let current = TOTP.step(at: unixTime, period: parameters.period) else {
            throw OTPCoreError(.invalidParameters, "time is before the Unix epoch")
        }
        let low = current >= UInt64(window) ? current - UInt64(window) : 0
        let high = current.addingReportingOverflow(UInt64(window))
        let candidates = Array(low...(high.overflow ? UInt64.max : high.partialValue))
        return verify(
            input, secret: secret, parameters: parameters, candidates: candidates,
            expected: current, watermark: watermark)
    }

    /// HOTP: accepts a code for the next `lookAhead + 1` counters after `watermark`
    /// (or from `initialCounter` when no code was accepted yet). The `lookAhead + 1`
    /// counters up to and including the watermark are checked too, so that a code
    /// used before (or overtaken by a later one) is reported as a replay.
    public static func verifyHOTP(
        code input: String, secret: [UInt8], parameters: OTPParameters,
        initialCounter: UInt64 = 0, lookAhead: Int = 10, watermark: UInt64?
    ) throws(OTPCoreError) -> VerificationResult {
        guard (0...maxLookAhead).contains(lookAhead) else {
            throw OTPCoreError(.invalidParameters, "look-ahead must be between 0 and \(maxLookAhead)")
        }
        let next: UInt64
        var candidates: [UInt64] = []
        if let watermark {
            let oldest = watermark >= UInt64(lookAhead) ? watermark - UInt64(lookAhead) : 0
            candidates.append(contentsOf: oldest...watermark)
            guard watermark < UInt64.max else { return .rejected(.noMatch) }
            next = watermark + 1
        } else {
            next = initialCounter
        }
        let room = UInt64.max - next
        let last = next + min(UInt64(lookAhead), room)
        candidates.append(contentsOf: next...last)
        return verify(
            input, secret: secret, parameters: parameters, candidates: candidates,
            expected: next, watermark: watermark)
    }

    private static func verify(
        _ input: String, secret: [UInt8], parameters: OTPParameters, candidates: [UInt64],
        expected: UInt64, watermark: UInt64?
    ) -> VerificationResult {
        guard let code = try? OneTimeCode.normalize(input, digits: parameters.digits) else {
            return .rejected(.malformed)
        }
        var fresh: UInt64?
        var replayed = false
        let generator = HOTP.Generator(secret: secret, algorithm: parameters.algorithm, digits: parameters.digits)
        for candidate in candidates {
            let expectedCode = generator.code(counter: candidate)
            let matches = ConstantTime.equal(code, expectedCode)
            let isFresh = watermark.map { candidate > $0 } ?? true
            if matches && isFresh {
                // On a (vanishingly rare) double match, prefer the step nearest the clock.
                if fresh == nil || distance(candidate, expected) < distance(fresh!, expected) {
                    fresh = candidate
                }
            } else if matches {
                replayed = true
            }
        }
        if let fresh {
            let drift = fresh >= expected ? Int(fresh - expected) : -Int(expected - fresh)
            return .accepted(counter: fresh, drift: drift)
        }
        return .rejected(replayed ? .replayed : .noMatch)
    }

    private static func distance(_ a: UInt64, _ b: UInt64) -> UInt64 { a > b ? a - b : b - a }
}
