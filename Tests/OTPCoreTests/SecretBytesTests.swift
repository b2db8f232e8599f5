import Foundation
import OTPCore
import Testing

@Suite("Secret bytes")
struct SecretBytesTests {
    func text(_ s: SecretBytes) -> String { s.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

    @Test func growingKeepsTheBytesInOrder() {
        let s = SecretBytes(capacity: 1)
        var expected: [UInt8] = []
        for i in 0..<1000 {
            s.append(UInt8(truncatingIfNeeded: i))
            expected.append(UInt8(truncatingIfNeeded: i))
        }
        s.append("tail")
        expected += Array("tail".utf8)
        #expect(s.count == expected.count)
        #expect(s.withUnsafeBytes { Array($0) } == expected)
    }

    @Test func wipeZeroesAndEmpties() {
        let s = SecretBytes()
        s.append("JBSWY3DPEHPK3PXP")
        var seen: [UInt8] = []
        s.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!
            s.wipe()
            seen = Array(UnsafeRawBufferPointer(start: base, count: 16))
        }
        #expect(s.isEmpty)
        #expect(seen == [UInt8](repeating: 0, count: 16))
    }

    @Test func sharedArrayStorageIsWipedForEveryCopy() {
        let secret: [UInt8] = Array(1...20)
        let copy = secret  // the same storage, as a struct field holding it would be
        secret.wipeSharedStorage()
        #expect(copy == [UInt8](repeating: 0, count: 20))
    }

    @Test func equalityComparesContents() {
        let a = SecretBytes(), b = SecretBytes(), c = SecretBytes()
        a.append("7K2QF-9XM4D-0RW3A"); b.append("7K2QF-9XM4D-0RW3A"); c.append("7K2QF-9XM4D-0RW3B")
        #expect(a.equals(b) && !a.equals(c) && !a.equals(SecretBytes()))
    }

    /// What the daemon writes into wiped memory is what the String forms give.
    @Test func base32AndURIIntoSecretBytesMatchTheStrings() throws {
        for _ in 0..<50 {
            let secret = try OTPSecret.generate()
            let text = SecretBytes()
            Base32.encode(secret, into: text)
            #expect(self.text(text) == Base32.encode(secret))
            let uri = OTPAuthURI(parameters: .standard, secret: secret, account: "bob ü:x", issuer: "host 1")
            let written = SecretBytes()
            uri.write(into: written)
            #expect(self.text(written) == uri.uri)
            #expect(try OTPAuthURI(parsing: self.text(written)).secret == secret)
        }
    }

    @Test func recoveryCodesInSecretBytesAreShapedAndCanonical() throws {
        let codes = try RecoveryCode.generateSecrets(count: 10)
        #expect(codes.count == 10)
        for code in codes {
            let shown = text(code)
            #expect(shown.count == 17 && shown.split(separator: "-").map(\.count) == [5, 5, 5])
            #expect(try RecoveryCode.normalize(code) == Array(shown.replacingOccurrences(of: "-", with: "").utf8))
            #expect(RecoveryCode.isWellFormed(shown))
        }
    }
}

@Suite("Wiping a parsed string")
struct StringWipeTests {
    @Test func aHeapStringIsZeroedForEveryCopy() {
        let parsed = String(decoding: Array("7K2QF-9XM4D-0RW3A".utf8), as: UTF8.self)  // made at run time
        let copy = parsed
        parsed.wipeSharedStorage()
        #expect(Array(copy.utf8) == [UInt8](repeating: 0, count: 17))
    }

    @Test func aShortStringIsLeftAlone() {
        let code = String(decoding: Array("123456".utf8), as: UTF8.self)
        code.wipeSharedStorage()
        #expect(code == "123456")
    }
}
