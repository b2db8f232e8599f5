import Foundation
import OTPCore
import OTPGateImport
import OTPGateProtocol
import Testing

/// Files made by the real google-authenticator tool, and hand-made awkward ones.
@Suite("google-authenticator files")
struct GoogleAuthenticatorFileTests {
    func parse(_ text: String) -> ImportedUser {
        GoogleAuthenticatorFile.parse(Array(text.utf8), file: "f", user: "alice")
    }

    @Test("TOTP file from the tool: step, window, reuse, rate limit, scratch codes")
    func totpFromTool() throws {
        let dir = try Fixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try Fixtures.googleAuthenticator(["-t", "-d", "-r", "5", "-R", "60", "-w", "17", "-S", "60", "-e", "7"], in: dir)
        let text = String(decoding: try Fixtures.bytes(path), as: UTF8.self)
        let u = GoogleAuthenticatorFile.parse(try Fixtures.bytes(path), file: path, user: "alice")
        #expect(!u.refused)
        let t = try #require(u.tokens.first)
        #expect(t.kind == .totp && t.period == 60 && t.digits == 6 && t.algorithm == .sha1)
        #expect(t.window == 8)  // 17 codes: 8 either side
        #expect(t.watermark == nil)  // DISALLOW_REUSE with no step used yet
        #expect(u.scratchCodes.count == 7)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(u.scratchCodes == lines.filter { $0.count == 8 && Int($0) != nil })
        #expect(u.issues.contains { $0.message.contains("RATE_LIMIT (5 logins per 60 s)") && $0.line != nil })
        // The secret decodes to what oathtool accepts for the same Base32 text.
        let now = Int64(Date().timeIntervalSince1970)
        let ours = HOTP.codeString(secret: try Base32.decode(t.secret), counter: UInt64(now / 60))
        let theirs = try Fixtures.oathtool(["--totp", "-s", "60", "-N", "@\(now)", "-b", lines[0]])
        #expect(ours == theirs)
    }

    @Test("HOTP file from the tool: the counter continues, the window is reported")
    func hotpFromTool() throws {
        let dir = try Fixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try Fixtures.googleAuthenticator(["-c", "-r", "2", "-R", "30", "-w", "5", "-e", "2"], in: dir)
        let u = GoogleAuthenticatorFile.parse(try Fixtures.bytes(path), file: path, user: "bob")
        let t = try #require(u.tokens.first)
        #expect(t.kind == .hotp && t.counter == 1 && t.watermark == 0 && t.period == nil)
        #expect(u.scratchCodes.count == 2)
        #expect(u.issues.contains { $0.message.contains("WINDOW_SIZE 5") })
    }

    // The tool's "minimal window" for TOTP is WINDOW_SIZE 3 (its source: "Should 3
    // really be the minimal window size for TOTP?"), the same as its default.
    @Test("minimal tool file (-W -D -u -e 0): window 3 = 1 either side, reuse warned, no scratch codes")
    func minimalFromTool() throws {
        let dir = try Fixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try Fixtures.googleAuthenticator(["-t", "-D", "-u", "-W", "-e", "0"], in: dir)
        let u = GoogleAuthenticatorFile.parse(try Fixtures.bytes(path), file: path, user: "c")
        let t = try #require(u.tokens.first)
        #expect(t.window == 1 && t.watermark == nil)
        #expect(u.scratchCodes.isEmpty)
        #expect(u.issues.contains { $0.message.contains("no DISALLOW_REUSE") })
    }

    @Test("google-authenticator's Base32: 0 1 8 as O L B, blanks and hyphens skipped, '=' refused, any length")
    func base32Quirks() throws {
        #expect(GoogleAuthenticatorBase32.decode(Array("MZXW6YTB".utf8)) == (try Base32.decode("MZXW6YTB")))
        #expect(GoogleAuthenticatorBase32.decode(Array("mzxw6ytb".utf8)) == (try Base32.decode("MZXW6YTB")))
        #expect(GoogleAuthenticatorBase32.decode(Array("0LB2".utf8)) == GoogleAuthenticatorBase32.decode(Array("OLB2".utf8)))
        #expect(GoogleAuthenticatorBase32.decode(Array("01832".utf8)) == GoogleAuthenticatorBase32.decode(Array("OLB32".utf8)))
        #expect(GoogleAuthenticatorBase32.decode(Array("MZXW 6Y-TB\t\r".utf8)) == (try Base32.decode("MZXW6YTB")))
        #expect(GoogleAuthenticatorBase32.decode(Array("MZXW6===".utf8)) == nil)
        #expect(GoogleAuthenticatorBase32.decode(Array("MZX!".utf8)) == nil)
        // RFC 4648 has no 1-, 3- or 6-symbol tail; the peer just drops the bits.
        #expect(GoogleAuthenticatorBase32.decode(Array("MZXW6Y".utf8))?.count == 3)
    }

    static let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

    @Test("CRLF line ends read like LF")
    func crlf() throws {
        let lf = "\(Self.secret)\n\" DISALLOW_REUSE 100 105\n\" TOTP_AUTH\n\" TIME_SKEW -3\n12345678\n87654321\n"
        let a = parse(lf)
        let b = parse(lf.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(a.tokens == b.tokens && a.scratchCodes == b.scratchCodes)
        #expect(a.tokens.first?.watermark == 105 && a.tokens.first?.skew == -3)
        #expect(a.scratchCodes == ["12345678", "87654321"])
    }

    @Test("scratch codes stop at the first line that is not one, as in the peer")
    func scratchStop() throws {
        let u = parse("\(Self.secret)\n\" TOTP_AUTH\n11111111\n22222222 \n33333333\nhello\n\" DISALLOW_REUSE\n")
        #expect(u.scratchCodes == ["11111111"])
        #expect(u.issues.contains { $0.line == 4 && $0.message.contains("not a scratch code as google-authenticator reads one") })
        #expect(u.issues.contains { $0.line == 5 && $0.message.contains("stops reading scratch codes at line 4") })
        #expect(u.issues.contains { $0.line == 6 && $0.message.contains("not understood") })
        // Option lines between codes do not stop it; a code with a leading zero does.
        let v = parse("\(Self.secret)\n44444444\n\" TOTP_AUTH\n55555555\n01234567\n66666666\n")
        #expect(v.scratchCodes == ["44444444", "55555555"])
        // The peer's strtoul takes a sign and leading blanks; a minus wraps it out of range.
        let w = parse("\(Self.secret)\n\" TOTP_AUTH\n+12345678\n   23456789\n-34567890\n45678901\n")
        #expect(w.scratchCodes == ["12345678", "23456789"])
        #expect(w.issues.contains { $0.line == 6 && $0.message.contains("stops reading scratch codes at line 5") })
    }

    @Test("8-digit codes, comments and a missing mode")
    func refusals() throws {
        #expect(parse("").refused)
        #expect(parse("").issues.first?.message.contains("empty") == true)
        let noMode = parse("\(Self.secret)\n12345678\n")
        #expect(noMode.refused && noMode.issues.contains { $0.message.contains("neither TOTP_AUTH nor HOTP_COUNTER") })
        let padded = parse("MZXW6YTB====\n\" TOTP_AUTH\n")
        #expect(padded.refused && padded.issues.first?.line == 1)
        let step = parse("\(Self.secret)\n\" STEP_SIZE 90\n\" TOTP_AUTH\n")
        #expect(step.refused && step.issues.first?.line == 2 && step.issues.first?.message.contains("STEP_SIZE") == true)
        let nul = parse("\(Self.secret)\n\u{0}\n")
        #expect(nul.refused)
        let short = parse("MZXW6YTB\n\" TOTP_AUTH\n")
        #expect(short.refused && short.issues.contains { $0.message.contains("40 bits") })
    }

    @Test("TOTP_AUTH anywhere counts; HOTP_COUNTER over 0 wins; 80-bit secrets warned")
    func modes() throws {
        let anywhere = parse("JBSWY3DPEHPK3PXP\nx \" TOTP_AUTH\n")
        #expect(anywhere.tokens.first?.kind == .totp)
        #expect(anywhere.issues.contains { $0.message.contains("80 bits") })
        let both = parse("\(Self.secret)\n\" TOTP_AUTH\n\" HOTP_COUNTER 7\n")
        #expect(both.tokens.first?.kind == .hotp && both.tokens.first?.counter == 7)
        let zero = parse("\(Self.secret)\n\" TOTP_AUTH\n\" HOTP_COUNTER 0\n")
        #expect(zero.tokens.first?.kind == .totp)
        let repeated = parse("\(Self.secret)\n\" TOTP_AUTH\n\" TIME_SKEW 2\n\" TIME_SKEW 5\n")
        #expect(repeated.tokens.first?.skew == 2 && repeated.issues.contains { $0.line == 4 })
    }
}
