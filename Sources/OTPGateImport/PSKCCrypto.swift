internal import COpenSSL
import OTPCore

/// The two primitives RFC 6030 §6.1 uses for pre-shared-key files, through OpenSSL.
enum PSKCCrypto {
    /// AES-CBC decryption of `IV || ciphertext` (XML Encryption: the IV comes first,
    /// and the last byte of the plaintext says how many padding bytes to drop; the
    /// others are arbitrary, so OpenSSL's PKCS#7 check is off). Nil on any failure.
    static func decryptCBC(_ data: [UInt8], key: [UInt8]) -> [UInt8]? {
        let cipher: OpaquePointer?
        switch key.count {
        case 16: cipher = EVP_aes_128_cbc()
        case 24: cipher = EVP_aes_192_cbc()
        case 32: cipher = EVP_aes_256_cbc()
        default: return nil
        }
        guard data.count >= 32, data.count % 16 == 0, let ctx = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let iv = Array(data[0..<16])
        let body = Array(data[16...])
        var out = [UInt8](repeating: 0, count: body.count + 16)
        var n: Int32 = 0
        var tail: Int32 = 0
        guard EVP_DecryptInit_ex(ctx, cipher, nil, key, iv) == 1, EVP_CIPHER_CTX_set_padding(ctx, 0) == 1,
            EVP_DecryptUpdate(ctx, &out, &n, body, Int32(body.count)) == 1
        else { return nil }
        let ok = out.withUnsafeMutableBufferPointer { p in EVP_DecryptFinal_ex(ctx, p.baseAddress! + Int(n), &tail) }
        guard ok == 1 else { return nil }
        let plain = Array(out[0..<Int(n + tail)])
        guard let pad = plain.last, pad >= 1, pad <= 16, Int(pad) <= plain.count else { return nil }
        return Array(plain.dropLast(Int(pad)))
    }

    /// PBKDF2 with HMAC-SHA1 (PKCS #5 v2.0, RFC 6030 §6.2's default PRF). Nil on failure.
    static func pbkdf2SHA1(password: [UInt8], salt: [UInt8], iterations: Int, length: Int) -> [UInt8]? {
        guard iterations >= 1, iterations <= 10_000_000, (16...32).contains(length) else { return nil }
        var out = [UInt8](repeating: 0, count: length)
        let ok = password.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { pc in
                PKCS5_PBKDF2_HMAC_SHA1(pc.baseAddress, Int32(pc.count), salt, Int32(salt.count), Int32(iterations), Int32(length), &out)
            }
        }
        return ok == 1 ? out : nil
    }

    static func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        var length: UInt32 = 0
        _ = key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                HMAC(EVP_sha1(), k.baseAddress, Int32(k.count), m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count, &out, &length)
            }
        }
        return out
    }

    static func macMatches(key: [UInt8], message: [UInt8], mac: [UInt8]) -> Bool {
        ConstantTime.equal(hmacSHA1(key: key, message: message), mac)
    }
}
