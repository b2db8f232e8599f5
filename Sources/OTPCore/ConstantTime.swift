internal import COpenSSL

/// Comparisons whose running time does not depend on where two inputs differ.
public enum ConstantTime {
    /// True when both byte strings are equal. Inputs of different lengths are unequal;
    /// lengths are not secret here (they are fixed by the token's digit count).
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in
                CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0
            }
        }
    }
}
