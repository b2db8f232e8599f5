import Foundation
import OTPCore
import Testing

@Suite("Secret and recovery-code generation")
struct GenerationTests {
    @Test func secretsAre160BitsByDefaultAndDistinct() throws {
        let a = try OTPSecret.generate()
        let b = try OTPSecret.generate()
        #expect(a.count == 20)
        #expect(a != b)
        #expect(throws: OTPCoreError.self) { try OTPSecret.generate(bytes: 8) }
        #expect(OTPSecret.grouped(Array("12345678901234567890".utf8)) == "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ")
    }

    @Test func recoveryCodesHaveEnoughEntropyAndAreTypeable() throws {
        #expect(RecoveryCode.bits >= 60)
        let codes = try RecoveryCode.generate(count: 10)
        #expect(Set(codes).count == 10)
        for code in codes {
            #expect(code.count == 17)  // 3 groups of 5, 2 hyphens
            let groups = code.split(separator: "-")
            #expect(groups.count == 3 && groups.allSatisfy { $0.count == 5 })
            #expect(!code.contains(where: { "ILOU".contains($0) }))
            #expect(try RecoveryCode.normalize(code) == Array(code.replacingOccurrences(of: "-", with: "").utf8))
        }
    }

    @Test func recoveryCodeSymbolsAreRoughlyUniform() throws {
        var counts = [UInt8: Int]()
        for _ in 0..<400 {
            for c in try RecoveryCode.generate().utf8 where c != UInt8(ascii: "-") { counts[c, default: 0] += 1 }
        }
        // 6000 symbols over 32: expect ~187 each; every symbol must occur.
        #expect(counts.count == 32)
        #expect(counts.values.allSatisfy { $0 > 100 && $0 < 300 })
    }

    @Test func recoveryCodeNormalisation() throws {
        #expect(try RecoveryCode.normalize("abcde fghjk-mnpq0") == Array("ABCDEFGHJKMNPQ0".utf8))
        #expect(try RecoveryCode.normalize("OIL23-45678-9ABCD") == Array("01123456789ABCD".utf8))
        for bad in ["", "ABCDE-FGHJK", "ABCDE-FGHJK-MNPQRS", "ABCDE-FGHJK-MNPQU", "ABCDE_FGHJK_MNPQR", "ÄBCDE-FGHJK-MNPQR"] {
            #expect(throws: OTPCoreError.self, "\(bad)") { try RecoveryCode.normalize(bad) }
        }
    }
}
