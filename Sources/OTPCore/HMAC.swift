internal import COpenSSL

/// HMAC with a key prepared once (OpenSSL EVP_MAC): the key schedule (hashing the
/// padded key into the inner and outer states) is done in `init`, and every
/// `authenticate` restarts from it. Checking a HOTP code with look-ahead computes 22
/// MACs under one key; one-shot `HMAC()` set the key up (and fetched the digest) for
/// each of them, about ten times the work of the MAC itself.
///
/// Not copyable: it owns the OpenSSL context, freed (and wiped by OpenSSL) in deinit.
public struct HMAC: ~Copyable {
    private let context: OpaquePointer

    init(_ algorithm: OTPAlgorithm, key: [UInt8]) {
        guard let mac = Self.mac.pointer, let context = EVP_MAC_CTX_new(mac) else {
            preconditionFailure("OpenSSL has no HMAC")
        }
        let name: StaticString =
            switch algorithm {
            case .sha1: "SHA1"
            case .sha256: "SHA256"
            case .sha512: "SHA512"
            }
        let ok = "digest".withCString { paramName in
            name.withUTF8Buffer { digest in
                var params = [
                    OSSL_PARAM(
                        key: paramName, data_type: UInt32(OSSL_PARAM_UTF8_STRING),
                        data: UnsafeMutableRawPointer(mutating: digest.baseAddress!), data_size: digest.count,
                        return_size: 0),
                    OSSL_PARAM(key: nil, data_type: 0, data: nil, data_size: 0, return_size: 0),
                ]
                return key.withUnsafeBufferPointer { k in EVP_MAC_init(context, k.baseAddress, k.count, &params) }
            }
        }
        // Fails only on allocation failure or an unavailable digest; neither can be
        // recovered from, and going on would risk accepting a wrong code.
        precondition(ok == 1, "OpenSSL HMAC set-up failed")
        self.context = context
    }

    deinit { EVP_MAC_CTX_free(context) }

    /// The MAC of an 8-byte message (a HOTP counter, big-endian) into `out`, which
    /// holds at least `EVP_MAX_MD_SIZE` bytes; returns the MAC's length.
    func authenticate(_ message: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int {
        var length = 0
        let ok =
            EVP_MAC_init(context, nil, 0, nil) == 1
            && EVP_MAC_update(context, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count) == 1
            && EVP_MAC_final(context, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length, out.count) == 1
        precondition(ok, "OpenSSL HMAC failed")
        return length
    }

    /// One MAC of `message` under `key`, for callers outside the code check (the
    /// store binds recovery-code hashes to their user with it).
    public static func authenticate(_ algorithm: OTPAlgorithm, key: [UInt8], message: [UInt8]) -> [UInt8] {
        let hmac = HMAC(algorithm, key: key)
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        let length = message.withUnsafeBytes { m in out.withUnsafeMutableBytes { o in hmac.authenticate(m, into: o) } }
        return Array(out.prefix(length))
    }

    /// The HMAC algorithm, fetched from the provider once per process.
    private struct FetchedMAC: @unchecked Sendable {
        let pointer: OpaquePointer?
    }
    private static let mac = FetchedMAC(pointer: EVP_MAC_fetch(nil, "HMAC", nil))
}
