import Foundation
import OTPGateImport
import OTPGateProtocol
import Testing

/// A users.oath with every token type of pam_oath's documentation, and awkward lines.
@Suite("pam_oath usersfile")
struct OathUsersFileTests {
    static let k1 = "3132333435363738393031323334353637383930"
    static let k2 = "00112233445566778899aabbccddeeff00112233"

    static let file = """
        # users.oath, every token type
        HOTP\talice\t-\t\(k1)
        HOTP/E/8 alice - \(k2) 5
        HOTP/E/7   bob  +  \(k1)   12   1234567   2009-12-07T23:23:49L
        HOTP/E      bob - \(k2)\r
        HOTP/T30    carol - \(k1)
        HOTP/T30/8  carol - \(k2)
        HOTP/T60    dave - \(k1)
        HOTP/T60/7  dave - \(k2)
        HOTP/E/6    erin - \(k1)

        HOTP mallory hunter2 \(k1)
        HOTP toy - 00
        TOTP frank - \(k1)
        HOTP/T30/9 grace - \(k1)
        HOTP heidi - 123
        HOTP ivan
        """

    @Test("every token type, several tokens per user, PINs - and +, counters")
    func everyType() throws {
        let (users, issues) = OathUsersFile.parse(Array(Self.file.utf8), file: "users.oath")
        #expect(users.map(\.user) == ["alice", "bob", "carol", "dave", "erin"])
        let byName = Dictionary(uniqueKeysWithValues: users.map { ($0.user, $0) })
        let alice = try #require(byName["alice"])
        #expect(alice.tokens.map(\.name) == ["pam_oath", "pam_oath-2"])
        #expect(alice.tokens[0].kind == .hotp && alice.tokens[0].digits == 6 && alice.tokens[0].counter == 0 && alice.tokens[0].watermark == nil)
        // A counter without a last OTP is the next one to try.
        #expect(alice.tokens[1].digits == 8 && alice.tokens[1].counter == 5 && alice.tokens[1].watermark == 4)
        // With a last OTP, liboath wrote the counter it accepted: the next is one more.
        let bob = try #require(byName["bob"])
        #expect(bob.tokens[0].digits == 7 && bob.tokens[0].watermark == 12 && bob.tokens[0].counter == 13)
        #expect(bob.issues.contains { $0.message.contains("PIN '+'") })
        #expect(bob.tokens[1].secret.count == 32)  // the CR at the line's end is white space
        let carol = try #require(byName["carol"])
        #expect(carol.tokens.map(\.period) == [30, 30] && carol.tokens.map(\.digits) == [6, 8])
        let dave = try #require(byName["dave"])
        #expect(dave.tokens.map(\.period) == [60, 60] && dave.tokens.map(\.digits) == [6, 7])
        #expect(byName["erin"]?.tokens.first?.digits == 6)

        func issue(_ line: Int) -> String? { issues.first { $0.line == line }?.message }
        #expect(issue(12)?.contains("static PIN") == true)
        #expect(issue(12)?.contains("hunter2") == false)
        #expect(issue(13)?.contains("8 bits") == true)
        #expect(issue(14)?.contains("token type 'TOTP'") == true)
        #expect(issue(15)?.contains("HOTP/T30/9") == true)
        #expect(issue(16)?.contains("hex") == true)
        #expect(issue(17)?.contains("no secret") == true)
        #expect(issues.allSatisfy { $0.severity == .error })
    }

    @Test("a TOTP last OTP becomes the watermark at the step it was used")
    func totpLastOTP() throws {
        // 2009-12-07T23:23:49 UTC; the file's time is local, and the tests run in UTC.
        setenv("TZ", "UTC", 1)
        tzset()
        let time: Int64 = 1_260_228_229
        let used = try Fixtures.oathtool(["--totp", "-N", "@\(time - 30)", Self.k1])
        let text = "HOTP/T30 carol - \(Self.k1) 0 \(used) 2009-12-07T23:23:49L\n"
        let (users, _) = OathUsersFile.parse(Array(text.utf8), file: "u")
        #expect(users.first?.tokens.first?.watermark == (time - 30) / 30)
        let bad = "HOTP/T30 carol - \(Self.k1) 0 123456 yesterday\n"
        #expect(OathUsersFile.parse(Array(bad.utf8), file: "u").issues.first?.message.contains("timestamp") == true)
    }
}
