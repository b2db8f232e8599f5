internal import COpenSSL

/// HMAC through OpenSSL's one-shot `HMAC()`.
public enum HMAC {
    public static func authenticate(
        _ algorithm: OTPAlgorithm, key: [UInt8], message: [UInt8]
    ) -> [UInt8] {
        let md: OpaquePointer? =
            switch algorithm {
            case .sha1: EVP_sha1()
            case .sha256: EVP_sha256()
            case .sha512: EVP_sha512()
            }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var outLength: UInt32 = 0
        let result = key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                out.withUnsafeMutableBytes { o in
                    COpenSSL.HMAC(
                        md, k.baseAddress, Int32(k.count),
                        m.baseAddress!.assumingMemoryBound(to: UInt8.self), m.count,
                        o.baseAddress!.assumingMemoryBound(to: UInt8.self), &outLength)
                }
            }
        }
        // HMAC only fails on allocation failure or an unavailable digest; neither can be
        // recovered from, and returning anything would risk accepting a wrong code.
        precondition(result != nil, "OpenSSL HMAC failed")
        return Array(out.prefix(Int(outLength)))
    }
}
