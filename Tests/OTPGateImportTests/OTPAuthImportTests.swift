import Foundation
import OTPCore
import OTPGateImport
import OTPGateProtocol
import Testing

/// otpauth:// URIs and Google Authenticator's migration payload, built here from the
/// published protobuf schema.
@Suite("otpauth and otpauth-migration")
struct OTPAuthImportTests {
    /// Protobuf encoding, by the book: varint keys (field << 3 | wire type).
    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v
        var out: [UInt8] = []
        repeat {
            var b = UInt8(v & 0x7f)
            v >>= 7
            if v != 0 { b |= 0x80 }
            out.append(b)
        } while v != 0
        return out
    }
    static func field(_ n: UInt64, _ v: UInt64) -> [UInt8] { varint(n << 3) + varint(v) }
    static func field(_ n: UInt64, _ b: [UInt8]) -> [UInt8] { varint(n << 3 | 2) + varint(UInt64(b.count)) + b }

    static func entry(secret: [UInt8], name: String, issuer: String, algorithm: UInt64, digits: UInt64, type: UInt64, counter: UInt64 = 0) -> [UInt8] {
        field(1, secret) + field(2, Array(name.utf8)) + field(3, Array(issuer.utf8)) + field(4, algorithm) + field(5, digits)
            + field(6, type) + (counter > 0 ? field(7, counter) : [])
    }

    static func migration(_ entries: [[UInt8]], batchSize: UInt64 = 1, batchIndex: UInt64 = 0) -> String {
        let payload = entries.flatMap { field(1, $0) } + field(2, 1) + field(3, batchSize) + field(4, batchIndex) + field(5, 42)
        let b64 = Data(payload).base64EncodedString()
        let encoded = b64.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        return "otpauth-migration://offline?data=\(encoded)"
    }

    static let secret = Array("12345678901234567890".utf8)

    @Test("a migration payload with TOTP and HOTP accounts, unknown fields skipped")
    func migration() throws {
        let totp = Self.entry(secret: Self.secret, name: "alice@example.com", issuer: "Example", algorithm: 1, digits: 1, type: 2)
        let hotp = Self.entry(secret: Self.secret, name: "bob", issuer: "", algorithm: 3, digits: 2, type: 1, counter: 7)
            + Self.field(15, 99)  // an unknown field
        let text = "# exported\n" + Self.migration([totp, hotp]) + "\n"
        let u = OTPAuthImport.parse(Array(text.utf8), file: "x", user: "alice")
        #expect(u.tokens.count == 2)
        #expect(u.tokens[0].name == "Example:alice@example.com" && u.tokens[0].kind == .totp && u.tokens[0].period == 30)
        #expect(u.tokens[1].name == "bob" && u.tokens[1].kind == .hotp && u.tokens[1].digits == 8 && u.tokens[1].algorithm == .sha512)
        #expect(u.tokens[1].counter == 7)
        #expect(try Base32.decode(u.tokens[0].secret) == Self.secret)
    }

    @Test("batches, MD5, garbage and short secrets are reported per line")
    func migrationIssues() throws {
        let md5 = Self.entry(secret: Self.secret, name: "m", issuer: "", algorithm: 4, digits: 1, type: 2)
        let short = Self.entry(secret: Array("1234".utf8), name: "s", issuer: "", algorithm: 1, digits: 1, type: 2)
        let ok = Self.entry(secret: Self.secret, name: "ok", issuer: "", algorithm: 2, digits: 1, type: 2)
        let text = [
            Self.migration([md5, short, ok], batchSize: 2, batchIndex: 0),
            "otpauth-migration://offline?data=%%%",
            "otpauth-migration://offline?data=" + Data([0x0a, 0x7f]).base64EncodedString(),
        ].joined(separator: "\n")
        let u = OTPAuthImport.parse(Array(text.utf8), file: "x", user: "a")
        #expect(u.tokens.map(\.name) == ["ok"])
        #expect(u.issues.contains { $0.line == 1 && $0.message.contains("MD5") })
        #expect(u.issues.contains { $0.line == 1 && $0.message.contains("32 bits") })
        #expect(u.issues.contains { $0.line == 1 && $0.message.contains("QR code 1 of 2") })
        #expect(u.issues.contains { $0.line == 2 })
        #expect(u.issues.contains { $0.line == 3 && $0.message.contains("protobuf") })
    }

    @Test("otpauth:// URIs, names made unique, zbarimg's prefix")
    func uris() throws {
        let s = Base32.encode(Self.secret)
        let text = """
            otpauth://totp/Example:alice?secret=\(s)&issuer=Example&algorithm=SHA256&digits=8&period=60
            QR-Code:otpauth://totp/Example:alice?secret=\(s)&issuer=Example
            otpauth://hotp/bob?secret=\(s)&counter=3
            otpauth://totp/x?secret=!!
            """
        let u = OTPAuthImport.parse(Array(text.utf8), file: "x", user: "alice")
        #expect(u.tokens.map(\.name) == ["Example:alice", "Example:alice-2", "bob"])
        #expect(u.tokens[0].algorithm == .sha256 && u.tokens[0].digits == 8 && u.tokens[0].period == 60)
        #expect(u.tokens[2].kind == .hotp && u.tokens[2].counter == 3)
        #expect(u.issues.contains { $0.line == 4 && $0.severity == .error })
        #expect(OTPAuthImport.parse([], file: "x", user: "a").refused)
    }
}
