import Foundation
import OTPCore
import Testing

@Suite("Base32")
struct Base32Tests {
    /// RFC 4648 §10.
    @Test(arguments: [
        ("", ""), ("f", "MY======"), ("fo", "MZXQ===="), ("foo", "MZXW6==="),
        ("foob", "MZXW6YQ="), ("fooba", "MZXW6YTB"), ("foobar", "MZXW6YTBOI======"),
    ])
    func rfc4648Vectors(plain: String, encoded: String) throws {
        #expect(Base32.encode(Array(plain.utf8), padded: true) == encoded)
        #expect(Base32.encode(Array(plain.utf8)) == encoded.replacingOccurrences(of: "=", with: ""))
        #expect(try Base32.decode(encoded) == Array(plain.utf8))
    }

    @Test func decodeIsTolerant() throws {
        let expected = Array("foobar".utf8)
        #expect(try Base32.decode("mzxw6ytboi") == expected)
        #expect(try Base32.decode("MZXW 6YTB OI") == expected)
        #expect(try Base32.decode("mzxw-6ytb-oi") == expected)
        #expect(try Base32.decode("MZXW6YTBOI======") == expected)
    }

    @Test func roundTripsRandomBytes() throws {
        for length in 0...70 {
            let bytes = try SecureRandom.bytes(length)
            #expect(try Base32.decode(Base32.encode(bytes)) == bytes)
            #expect(try Base32.decode(Base32.encode(bytes, padded: true)) == bytes)
            #expect(try Base32.decode(Base32.encode(bytes).lowercased()) == bytes)
        }
    }

    @Test(arguments: [
        ("MZXW1YTB", "position 5"),  // 1 is not in the alphabet
        ("MZXW6YT8", "position 8"),
        ("MZXW6YTB_", "position 9"),
        ("MZXW\n6YTB", "position 5"),
        ("MZXWé", "position 5"),
        ("M", "impossible length"),
        ("MZX", "impossible length"),
        ("MZXW6Y", "impossible length"),
        ("MZ=XW6YTB", "after its padding"),
        ("MZXQ==", "padding does not fill"),
        ("MZXW6=== MZ", "after its padding"),
    ])
    func malformed(input: String, messagePart: String) {
        do {
            _ = try Base32.decode(input)
            Issue.record("accepted \(input)")
        } catch {
            #expect(error.code == .invalidBase32)
            #expect(error.message.contains(messagePart), "message: \(error.message)")
        }
    }
}
