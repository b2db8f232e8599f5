import OTPCore
import Testing

@Suite("otpauth:// URIs")
struct OTPAuthURITests {
    let secret = Array("12345678901234567890".utf8)

    @Test func buildsTheKeyUriFormat() throws {
        let uri = OTPAuthURI(
            parameters: .standard, secret: secret, account: "alice@host", issuer: "otpgate host1")
        #expect(
            uri.uri
                == "otpauth://totp/otpgate%20host1:alice%40host?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=otpgate%20host1&algorithm=SHA1&digits=6&period=30"
        )
        #expect(!uri.description.contains("GEZDGNBV"))
    }

    @Test func roundTrips() throws {
        for kind in OTPKind.allCases {
            for algorithm in OTPAlgorithm.allCases {
                for digits in 6...8 {
                    let params = try OTPParameters(kind: kind, algorithm: algorithm, digits: digits, period: 45)
                    let original = OTPAuthURI(
                        parameters: params, secret: try OTPSecret.generate(), account: "bob ü:x",
                        issuer: "Example & Co", counter: kind == .hotp ? 42 : 0)
                    var expected = original
                    if kind == .hotp { expected.parameters = try OTPParameters(kind: .hotp, algorithm: algorithm, digits: digits) }
                    let parsed = try OTPAuthURI(parsing: original.uri)
                    #expect(parsed.secret == original.secret)
                    #expect(parsed.account == original.account)
                    #expect(parsed.issuer == original.issuer)
                    #expect(parsed.counter == original.counter)
                    #expect(parsed.parameters.kind == kind)
                    #expect(parsed.parameters.algorithm == algorithm)
                    #expect(parsed.parameters.digits == digits)
                    if kind == .totp { #expect(parsed.parameters.period == 45) }
                }
            }
        }
    }

    @Test func parsesWhatOtherToolsWrite() throws {
        // google-authenticator's form: no algorithm, digits or period; issuer only in the query.
        let ga = try OTPAuthURI(parsing: "otpauth://totp/alice@host?secret=GEZDGNBVGY3TQOJQ&issuer=host")
        #expect(ga.account == "alice@host")
        #expect(ga.issuer == "host")
        #expect(ga.parameters == .standard)
        #expect(ga.secret == Array("1234567890".utf8))
        // Issuer in the label only, a space after the colon, lower-case secret, unknown key.
        let other = try OTPAuthURI(
            parsing: "otpauth://TOTP/ACME:%20carol?secret=gezdgnbvgy3tqojq&algorithm=sha256&image=https%3A%2F%2Fx")
        #expect(other.issuer == "ACME")
        #expect(other.account == "carol")
        #expect(other.parameters.algorithm == .sha256)
    }

    @Test(arguments: [
        ("http://totp/a?secret=GEZDGNBVGY3TQOJQ", "does not start with otpauth://"),
        ("otpauth://totp", "has no label"),
        ("otpauth://motp/a?secret=GEZDGNBVGY3TQOJQ", "type must be totp or hotp"),
        ("otpauth://totp/?secret=GEZDGNBVGY3TQOJQ", "no account name"),
        ("otpauth://totp/Issuer:?secret=GEZDGNBVGY3TQOJQ", "no account name"),
        ("otpauth://totp/:bob?secret=GEZDGNBVGY3TQOJQ", "empty issuer"),
        ("otpauth://totp/a%ZZ?secret=GEZDGNBVGY3TQOJQ", "label is not valid"),
        ("otpauth://totp/a%0Ab?secret=GEZDGNBVGY3TQOJQ", "control character"),
        ("otpauth://totp/a", "has no secret"),
        ("otpauth://totp/a?secret=", "has no secret"),
        ("otpauth://totp/a?secret=GEZDGNBVGY3TQOJ1", "not valid base32"),
        ("otpauth://totp/a?secret=GEZDGNBV", "shorter than 80 bits"),
        ("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQ&secret=GEZDGNBVGY3TQOJQ", "appears twice"),
        ("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQ&digits", "has no '='"),
        ("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQ&algorithm=MD5", "algorithm must be"),
        ("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQ&digits=9", "digits must be"),
        ("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQ&digits=+6", "digits must be"),
        ("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQ&period=0", "period must be"),
        ("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQ&period=-30", "period must be"),
        ("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQ&period=30s", "period must be"),
        ("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQ&counter=3", "totp URI has no counter"),
        ("otpauth://hotp/a?secret=GEZDGNBVGY3TQOJQ", "needs a counter"),
        ("otpauth://hotp/a?secret=GEZDGNBVGY3TQOJQ&counter=-1", "counter must be"),
        ("otpauth://hotp/a?secret=GEZDGNBVGY3TQOJQ&counter=18446744073709551616", "counter must be"),
        ("otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQ&issuer=B", "differ"),
        ("otpauth://totp/b?secret=GEZDGNBVGY3TQOJQ&issuer=", "issuer parameter is empty"),
        ("otpauth://totp/b?secret=GEZDGNBVGY3TQOJQ#frag", "fragment"),
    ])
    func malformed(input: String, messagePart: String) {
        do {
            _ = try OTPAuthURI(parsing: input)
            Issue.record("accepted \(input)")
        } catch {
            #expect(error.code == .invalidURI)
            #expect(error.message.contains(messagePart), "message: \(error.message)")
            // An error never echoes the secret.
            #expect(!error.message.contains("GEZDGNBV"))
        }
    }
}
