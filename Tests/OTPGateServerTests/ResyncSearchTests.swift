import OTPCore
@testable import OTPGateServer
@testable import OTPGateStore
import Testing

/// The resync search: consecutive codes found anywhere in its range, with the offset
/// they imply; anything else finds nothing.
@Suite("Resync search")
struct ResyncSearchTests {
    static let secret = Array("12345678901234567890".utf8)
    static let now: Int64 = 1_700_000_000

    func token(_ kind: OTPKind, watermark: UInt64? = nil) throws -> VerifiableToken {
        let info = TokenInfo(
            id: "t", user: "u", name: "n", parameters: try OTPParameters(kind: kind), watermark: watermark, drift: 0,
            createdAt: 0, lastUsedAt: nil)
        return VerifiableToken(info: info, secret: Self.secret, initialCounter: 0)
    }

    func code(_ c: UInt64) -> String { HOTP.codeString(secret: Self.secret, counter: c) }

    @Test func totp() throws {
        let t = try token(.totp)
        let step = UInt64(Self.now / 30)
        let far = RequestHandler.findConsecutive([code(step - 1000), code(step - 999)], token: t, now: Self.now)
        #expect(far?.0 == step - 1000 && far?.1 == -999)
        // The first code may lie up to a day (2880 steps) either side.
        let ahead = RequestHandler.findConsecutive([code(step + 2880), code(step + 2881)], token: t, now: Self.now)
        #expect(ahead?.1 == 2881)
        #expect(RequestHandler.findConsecutive([code(step + 2881), code(step + 2882)], token: t, now: Self.now) == nil)
        #expect(RequestHandler.findConsecutive([code(step - 2881), code(step - 2880)], token: t, now: Self.now) == nil)
        #expect(RequestHandler.findConsecutive([code(step - 10), code(step - 8)], token: t, now: Self.now) == nil)
        #expect(RequestHandler.findConsecutive([code(step - 9), code(step - 10)], token: t, now: Self.now) == nil)
        #expect(RequestHandler.findConsecutive(["12345", code(step)], token: t, now: Self.now) == nil)
    }

    @Test func hotp() throws {
        let t = try token(.hotp, watermark: 40)
        let found = RequestHandler.findConsecutive([code(541), code(542), code(543)], token: t, now: Self.now)
        #expect(found?.0 == 541 && found?.1 == 500)
        // Never below the watermark: the search starts after it.
        #expect(RequestHandler.findConsecutive([code(30), code(31), code(32)], token: t, now: Self.now) == nil)
        #expect(RequestHandler.findConsecutive([code(41 + 10_001), code(41 + 10_002), code(41 + 10_003)], token: t, now: Self.now) == nil)
    }
}
