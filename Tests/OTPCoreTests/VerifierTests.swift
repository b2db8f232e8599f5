import OTPCore
import Testing

@Suite("Verification: window and watermark")
struct VerifierTests {
    let secret = Array("12345678901234567890".utf8)
    let params = OTPParameters.standard
    let now: Int64 = 1_700_000_010  // step 56_666_667 with 30 s steps
    var step: UInt64 { UInt64(now / 30) }

    func code(step: UInt64) -> String { HOTP.codeString(secret: secret, counter: step) }

    func verify(_ code: String, window: Int = 1, watermark: UInt64? = nil) throws -> VerificationResult {
        try OTPVerifier.verifyTOTP(
            code: code, secret: secret, parameters: params, at: now, window: window, watermark: watermark)
    }

    @Test func currentStepIsAccepted() throws {
        #expect(try verify(code(step: step)) == .accepted(counter: step, drift: 0))
    }

    @Test func windowEdges() throws {
        #expect(try verify(code(step: step - 1)) == .accepted(counter: step - 1, drift: -1))
        #expect(try verify(code(step: step + 1)) == .accepted(counter: step + 1, drift: 1))
        #expect(try verify(code(step: step - 2)) == .rejected(.noMatch))
        #expect(try verify(code(step: step + 2)) == .rejected(.noMatch))
        #expect(try verify(code(step: step + 3), window: 3) == .accepted(counter: step + 3, drift: 3))
    }

    @Test func windowZeroTakesOnlyTheCurrentStep() throws {
        #expect(try verify(code(step: step), window: 0) == .accepted(counter: step, drift: 0))
        #expect(try verify(code(step: step - 1), window: 0) == .rejected(.noMatch))
        #expect(try verify(code(step: step + 1), window: 0) == .rejected(.noMatch))
    }

    @Test func stepAtTheWatermarkIsAReplay() throws {
        #expect(try verify(code(step: step), watermark: step) == .rejected(.replayed))
        #expect(try verify(code(step: step - 1), watermark: step) == .rejected(.replayed))
        // One step above the watermark is fresh.
        #expect(try verify(code(step: step + 1), watermark: step) == .accepted(counter: step + 1, drift: 1))
        #expect(try verify(code(step: step), watermark: step - 1) == .accepted(counter: step, drift: 0))
    }

    @Test func laterCodeMovesPastEarlierOnes() throws {
        // After step+1 was accepted, the still-valid code of the current step is refused.
        #expect(try verify(code(step: step), watermark: step + 1) == .rejected(.replayed))
    }

    @Test func malformedCodesAreNeverCompared() throws {
        for bad in ["", "12345", "1234567", "12345a", "-12345", "+12345", "１２３４５６", "123456\n", "123\u{0}456"] {
            #expect(try verify(bad) == .rejected(.malformed), "input \(Array(bad.utf8))")
        }
    }

    @Test func groupedCodeIsAccepted() throws {
        let c = code(step: step)
        let spaced = String(c.prefix(3)) + " " + String(c.suffix(3))
        #expect(try verify(spaced) == .accepted(counter: step, drift: 0))
    }

    @Test func windowAtTheEpoch() throws {
        let r = try OTPVerifier.verifyTOTP(
            code: code(step: 0), secret: secret, parameters: params, at: 5, window: 1, watermark: nil)
        #expect(r == .accepted(counter: 0, drift: 0))
        #expect(throws: OTPCoreError.self) {
            try OTPVerifier.verifyTOTP(code: "123456", secret: secret, parameters: params, at: -1, watermark: nil)
        }
    }

    @Test func windowOutOfRangeIsAnError() {
        #expect(throws: OTPCoreError.self) { try verify(code(step: step), window: 11) }
        #expect(throws: OTPCoreError.self) { try verify(code(step: step), window: -1) }
    }

    @Test func hotpLookAheadAndWatermark() throws {
        let hotp = try OTPParameters(kind: .hotp)
        func check(_ counter: UInt64, watermark: UInt64?, lookAhead: Int = 3) throws -> VerificationResult {
            try OTPVerifier.verifyHOTP(
                code: code(step: counter), secret: secret, parameters: hotp, lookAhead: lookAhead,
                watermark: watermark)
        }
        #expect(try check(0, watermark: nil) == .accepted(counter: 0, drift: 0))
        #expect(try check(3, watermark: nil) == .accepted(counter: 3, drift: 3))
        #expect(try check(4, watermark: nil) == .rejected(.noMatch))
        #expect(try check(5, watermark: 4) == .accepted(counter: 5, drift: 0))
        #expect(try check(4, watermark: 4) == .rejected(.replayed))
        // Older codes, overtaken by a later one, are replays too (within the look-ahead).
        #expect(try check(2, watermark: 4) == .rejected(.replayed))
        #expect(try check(1, watermark: 4) == .rejected(.replayed))
        #expect(try check(0, watermark: 4) == .rejected(.noMatch))
        #expect(try check(8, watermark: 4) == .accepted(counter: 8, drift: 3))
        #expect(try check(9, watermark: 4) == .rejected(.noMatch))
        let fromInitial = try OTPVerifier.verifyHOTP(
            code: code(step: 100), secret: secret, parameters: hotp, initialCounter: 100, watermark: nil)
        #expect(fromInitial == .accepted(counter: 100, drift: 0))
    }

    @Test func otherDigitCountsAndAlgorithms() throws {
        for algorithm in OTPAlgorithm.allCases {
            for digits in 6...8 {
                let p = try OTPParameters(algorithm: algorithm, digits: digits, period: 60)
                let c = try TOTP.code(secret: secret, at: now, algorithm: algorithm, digits: digits, period: 60)
                #expect(c.count == digits)
                let r = try OTPVerifier.verifyTOTP(code: c, secret: secret, parameters: p, at: now, watermark: nil)
                #expect(r == .accepted(counter: UInt64(now / 60), drift: 0))
            }
        }
    }

    @Test func parametersAreValidated() {
        #expect(throws: OTPCoreError.self) { try OTPParameters(digits: 5) }
        #expect(throws: OTPCoreError.self) { try OTPParameters(digits: 9) }
        #expect(throws: OTPCoreError.self) { try OTPParameters(period: 0) }
        #expect(throws: OTPCoreError.self) { try OTPParameters(period: 86_401) }
        #expect((try? OTPParameters(period: 1)) != nil)
    }
}

@Suite("Code normalisation")
struct OneTimeCodeTests {
    @Test(arguments: ["123456", "123 456", "12 34 56", "1 2 3 4 5 6", "123  456"])
    func accepted(_ input: String) throws {
        #expect(try OneTimeCode.normalize(input, digits: 6) == Array("123456".utf8))
    }

    @Test(arguments: [
        "", "12345", "1234567", " 123456", "123456 ", "-123456", "+123456", "12345e", "0x1234",
        "١٢٣٤٥٦", "１２３４５６", "123456\n", "123\n456", "123\t456", "123\u{0}456", "12.456",
        String(repeating: "1", count: 100),
    ])
    func rejected(_ input: String) {
        #expect(throws: OTPCoreError.self) { try OneTimeCode.normalize(input, digits: 6) }
    }

    @Test func errorsDoNotRepeatTheInput() {
        do {
            _ = try OneTimeCode.normalize("98765x", digits: 6)
            Issue.record("accepted a letter")
        } catch {
            #expect(error.code == .invalidCode)
            #expect(!error.message.contains("98765"))
        }
    }

    @Test func constantTimeEqual() {
        #expect(ConstantTime.equal([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equal([], []))
    }
}
