internal import COpenSSL
import Dispatch
import OTPCore
import Synchronization

/// Salted scrypt hashes of recovery codes (OpenSSL `EVP_PBE_scrypt`), bound to
/// their user.
///
/// The stored value is HMAC-SHA256 keyed with the scrypt output over a label and the
/// user's name, so a row moved to another user no longer matches its code there
/// (token secrets are bound the same way, by their AES-GCM associated data). The
/// binding needs no key, so rows written before it existed were converted in place
/// by a migration (`StoreMigrations`).
///
/// One salt serves a user's whole batch of codes, so checking a typed code costs one
/// scrypt run however many codes are left (the codes themselves carry 75 bits, so
/// the salt only has to defeat precomputation across users and batches).
/// With N = 2^14, r = 8, p = 1 (16 MiB) one hash takes about 35 ms on the reference
/// machine (see docs/PERFORMANCE.md).
public struct RecoveryCodeHasher: Sendable, Hashable {
    public let n: UInt64
    public let r: UInt64
    public let p: UInt64
    public static let saltLength = 16
    public static let hashLength = 32

    public static let standard = RecoveryCodeHasher(n: 1 << 14, r: 8, p: 1)

    public init(n: UInt64, r: UInt64, p: UInt64) {
        self.n = n
        self.r = r
        self.p = p
    }

    /// The parameters as stored beside each hash, so they can change later.
    public var descriptor: String { "scrypt:n=\(n),r=\(r),p=\(p)" }

    public init?(descriptor: String) {
        let prefix = "scrypt:"
        guard descriptor.hasPrefix(prefix) else { return nil }
        var values: [String: UInt64] = [:]
        for part in descriptor.dropFirst(prefix.count).split(separator: ",") {
            let kv = part.split(separator: "=")
            guard kv.count == 2, let v = UInt64(kv[1]) else { return nil }
            values[String(kv[0])] = v
        }
        guard let n = values["n"], let r = values["r"], let p = values["p"],
            n >= 2, n & (n - 1) == 0, n <= 1 << 20, (1...32).contains(r), (1...16).contains(p)
        else { return nil }
        self.init(n: n, r: r, p: p)
    }

    /// At most this many hashes run at once in the process, whatever the number of
    /// threads asking: each takes 16 MiB, so many worker threads (which group commit
    /// wants) must not turn into many scrypt runs at once.
    public static let maxConcurrentHashes = 4
    private static let slots = DispatchSemaphore(value: maxConcurrentHashes)

    /// The stored form of `code` for `user`.
    public func hash(normalized code: [UInt8], salt: [UInt8], user: String) throws(StoreError) -> [UInt8] {
        Self.bind(try scrypt(normalized: code, salt: salt), user: user)
    }

    /// Binds an unbound scrypt output to `user`.
    package static func bind(_ scrypt: [UInt8], user: String) -> [UInt8] {
        HMAC.authenticate(.sha256, key: scrypt, message: Array("otpgate recovery code for\0".utf8) + Array(user.utf8))
    }

    /// A salt for the KDF run that a user without recovery codes is charged, so that
    /// a recovery-shaped guess costs every user the same (fixed: it protects nothing).
    package static let equalisingSalt = [UInt8](repeating: 0x5a, count: saltLength)

    /// scrypt runs with these parameters so far in this process (tests count them:
    /// the work per guess must not depend on the user).
    public var runs: Int { Self.runCounts.withLock { $0[self, default: 0] } }
    private static let runCounts = Mutex<[RecoveryCodeHasher: Int]>([:])

    func scrypt(normalized code: [UInt8], salt: [UInt8]) throws(StoreError) -> [UInt8] {
        Self.runCounts.withLock { $0[self, default: 0] += 1 }
        Self.slots.wait()
        defer { Self.slots.signal() }
        var out = [UInt8](repeating: 0, count: Self.hashLength)
        let ok = code.withUnsafeBufferPointer { c in
            salt.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    c.withMemoryRebound(to: CChar.self) { cc in
                        EVP_PBE_scrypt(
                            cc.baseAddress, cc.count, s.baseAddress, s.count, n, r, p,
                            128 * r * n * p + (1 << 20), o.baseAddress, o.count)
                    }
                }
            }
        }
        guard ok == 1 else { throw StoreError(.crypto, "scrypt failed") }
        return out
    }

    public static func newSalt() throws(StoreError) -> [UInt8] {
        do {
            return try SecureRandom.bytes(saltLength)
        } catch {
            throw StoreError(.crypto, "could not draw a salt: \(error.message)")
        }
    }
}
