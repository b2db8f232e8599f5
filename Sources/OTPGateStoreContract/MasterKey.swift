internal import COpenSSL
internal import Glibc
import OTPCore

/// The 256-bit key that encrypts every secret in the store.
///
/// It is identified by a short key id derived from it (the first 4 bytes of
/// SHA-256 over a label and the key), which every ciphertext carries, so a store can
/// tell "wrong key" from "damaged row" and a rekey can tell old rows from new.
public struct MasterKey: Sendable {
    public static let length = 32

    let bytes: [UInt8]
    public let id: KeyID

    public init(bytes: [UInt8]) throws(StoreError) {
        guard bytes.count == Self.length else {
            throw StoreError(.keyInvalid, "a master key has exactly \(Self.length) bytes, not \(bytes.count)")
        }
        self.bytes = bytes
        self.id = KeyID(deriving: bytes)
    }

    /// A new key from the OpenSSL CSPRNG.
    public static func generate() throws(StoreError) -> MasterKey {
        let bytes: [UInt8]
        do {
            bytes = try SecureRandom.bytes(length)
        } catch {
            throw StoreError(.crypto, "could not generate a master key: \(error.message)")
        }
        return try MasterKey(bytes: bytes)
    }
}

/// Four bytes naming a master key; shown as 8 hex digits.
public struct KeyID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    init(bytes: [UInt8]) {
        precondition(bytes.count == 4)
        self.bytes = bytes
    }

    init(deriving key: [UInt8]) {
        // A copy of the key: sized up front so it never grows, and wiped after use.
        var input = Array("otpgate master key id\0".utf8)
        input.reserveCapacity(input.count + key.count)
        input += key
        defer { input.wipeSharedStorage() }
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = input.withUnsafeBytes { i in
            digest.withUnsafeMutableBytes { d in
                EVP_Digest(
                    i.baseAddress, i.count, d.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    &length, EVP_sha256(), nil)
            }
        }
        precondition(ok == 1 && length == 32, "OpenSSL SHA-256 failed")
        self.bytes = Array(digest.prefix(4))
    }

    public init?(hex: String) {
        let chars = Array(hex.utf8)
        guard chars.count == 8 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: 8, by: 2) {
            guard let v = UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(v)
        }
        self.bytes = out
    }

    public var description: String {
        bytes.map { b in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }
}
