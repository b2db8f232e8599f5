@testable import OTPGateStore
import OTPGateTestSupport
import Testing

@Suite("AES-GCM keyring", .ownThreads)
struct KeyringTests {
    let secret: [UInt8] = Array("12345678901234567890".utf8)
    let alice = SecretBinding(table: "tokens", row: "aaaaaaaaaaaaaaaa", user: "alice", column: "secret")

    @Test func roundTripWithFreshNonces() throws {
        let ring = Keyring(current: try MasterKey.generate())
        let a = try ring.seal(secret, for: alice)
        let b = try ring.seal(secret, for: alice)
        #expect(a != b)  // a fresh nonce each time
        #expect(Array(a[5..<17]) != Array(b[5..<17]))
        #expect(try ring.open(a, for: alice) == secret)
        #expect(a.count == 1 + 4 + 12 + secret.count + 16)
        #expect(Keyring.keyID(of: a) == ring.current.id)
    }

    /// Flip one bit in each region: version, key id, nonce, ciphertext, tag.
    @Test(arguments: [0, 1, 4, 5, 16, 17, 20, 36, 37, 52])
    func anyBitFlipFailsClosed(offset: Int) throws {
        let ring = Keyring(current: try MasterKey.generate())
        var sealed = try ring.seal(secret, for: alice)
        #expect(offset < sealed.count)
        sealed[offset] ^= 0x01
        #expect(throws: StoreError.self) { try ring.open(sealed, for: alice) }
    }

    @Test func truncatedCiphertextFails() throws {
        let ring = Keyring(current: try MasterKey.generate())
        let sealed = try ring.seal(secret, for: alice)
        for n in [0, 1, 17, 32, sealed.count - 1] {
            #expect(throws: StoreError.self) { try ring.open(Array(sealed.prefix(n)), for: alice) }
        }
    }

    @Test func ciphertextMovedToAnotherRowFails() throws {
        let ring = Keyring(current: try MasterKey.generate())
        let sealed = try ring.seal(secret, for: alice)
        let others = [
            SecretBinding(table: "tokens", row: "aaaaaaaaaaaaaaaa", user: "bob", column: "secret"),
            SecretBinding(table: "tokens", row: "bbbbbbbbbbbbbbbb", user: "alice", column: "secret"),
            SecretBinding(table: "enrollments", row: "aaaaaaaaaaaaaaaa", user: "alice", column: "secret"),
            SecretBinding(table: "tokens", row: "aaaaaaaaaaaaaaaa", user: "alice", column: "other"),
        ]
        for other in others {
            #expect(throws: StoreError.self) { try ring.open(sealed, for: other) }
        }
    }

    @Test func unknownKeyIDIsNamed() throws {
        let sealed = try Keyring(current: try MasterKey.generate()).seal(secret, for: alice)
        let other = Keyring(current: try MasterKey.generate())
        do {
            _ = try other.open(sealed, for: alice)
            Issue.record("opened with another key")
        } catch {
            #expect(error.code == .decryptionFailed)
            #expect(error.message.contains(Keyring.keyID(of: sealed)!.description))
            #expect(error.message.contains("not loaded"))
        }
    }

    @Test func previousKeyStillOpensAfterRotation() throws {
        let old = try MasterKey.generate()
        let new = try MasterKey.generate()
        let sealed = try Keyring(current: old).seal(secret, for: alice)
        let ring = Keyring(current: new, others: [old])
        #expect(try ring.open(sealed, for: alice) == secret)
        #expect(Keyring.keyID(of: try ring.seal(secret, for: alice)) == new.id)
    }
}
