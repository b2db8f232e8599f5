internal import COpenSSL

/// Random bytes from the OpenSSL CSPRNG. Never falls back to a weaker source.
public enum SecureRandom {
    public static func bytes(_ count: Int) throws(OTPCoreError) -> [UInt8] {
        precondition(count >= 0)
        var out = [UInt8](repeating: 0, count: count)
        if count == 0 { return out }
        let ok = out.withUnsafeMutableBytes { buf in
            RAND_bytes(buf.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(count))
        }
        guard ok == 1 else {
            throw OTPCoreError(.cryptoFailure, "the OpenSSL random generator failed")
        }
        return out
    }

    /// A uniformly random integer in `0..<bound`, by rejection sampling.
    public static func uniform(below bound: UInt32) throws(OTPCoreError) -> UInt32 {
        precondition(bound > 0)
        let limit = UInt32.max - UInt32.max % bound
        while true {
            let b = try bytes(4)
            let v = UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
            if v < limit { return v % bound }
        }
    }
}
