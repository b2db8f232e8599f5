/// One-time recovery codes, for when the phone is gone.
///
/// Each is 15 symbols from Crockford's base32 alphabet (75 bits), shown in three
/// groups of five: `7K2QF-9XM4D-0RW3A`. The alphabet has no I, L, O or U, so nothing
/// reads as another symbol; when typed, `O` is taken as `0` and `I`/`L` as `1`, case
/// does not matter, and spaces and hyphens are ignored.
public enum RecoveryCode {
    public static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    public static let symbols = 15
    public static let groupSize = 5
    public static let bits = symbols * 5

    /// A new code, formatted for display (`XXXXX-XXXXX-XXXXX`), in wiped memory: what
    /// the daemon hands out. The random bytes it came from are wiped too.
    public static func generateSecret() throws(OTPCoreError) -> SecretBytes {
        let random = try SecureRandom.bytes(symbols)
        defer { random.wipeSharedStorage() }
        let code = SecretBytes(capacity: symbols + symbols / groupSize)
        for (i, byte) in random.enumerated() {
            if i > 0 && i % groupSize == 0 { code.append(UInt8(ascii: "-")) }
            // 32 symbols: the low 5 bits of a uniform byte are uniform.
            code.append(alphabet[Int(byte & 0x1f)])
        }
        return code
    }

    /// `count` distinct new codes, in wiped memory.
    public static func generateSecrets(count: Int) throws(OTPCoreError) -> [SecretBytes] {
        var codes: [SecretBytes] = []
        codes.reserveCapacity(count)
        while codes.count < count {
            let code = try generateSecret()
            if !codes.contains(where: { $0.equals(code) }) { codes.append(code) }
        }
        return codes
    }

    /// A new code, formatted for display, as a String (which is never wiped: for
    /// callers that show it, not for the daemon).
    public static func generate() throws(OTPCoreError) -> String {
        try generateSecret().withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// `count` distinct new codes, as Strings (see `generate()`).
    public static func generate(count: Int) throws(OTPCoreError) -> [String] {
        try generateSecrets(count: count).map { $0.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
    }

    /// Whether `input` has the shape of a recovery code (the canonical form made to
    /// find out is wiped).
    public static func isWellFormed(_ input: String) -> Bool {
        guard let canonical = try? normalize(input) else { return false }
        canonical.wipeSharedStorage()
        return true
    }

    /// The canonical form to hash and compare: 15 upper-case symbols, no separators.
    public static func normalize(_ input: String) throws(OTPCoreError) -> [UInt8] {
        try normalize(utf8: input.utf8)
    }

    /// The same for a code in wiped memory (one the daemon generated). The result is
    /// an array of exactly its own capacity: wipe it after use (`wipeSharedStorage`).
    public static func normalize(_ input: SecretBytes) throws(OTPCoreError) -> [UInt8] {
        try input.withUnsafeBytes { (raw) throws(OTPCoreError) in try normalize(utf8: raw) }
    }

    /// Works on the bytes where they are (no copy of the input is made), into an
    /// array reserved up front, so that it never grows and leaves no copy behind.
    private static func normalize(utf8 bytes: some Collection<UInt8>) throws(OTPCoreError) -> [UInt8] {
        guard bytes.count <= 64 else { throw OTPCoreError(.invalidCode, "the recovery code is too long") }
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes {
            var c = b
            if c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") { c -= 32 }
            switch c {
            case UInt8(ascii: " "), UInt8(ascii: "-"): continue
            case UInt8(ascii: "O"): c = UInt8(ascii: "0")
            case UInt8(ascii: "I"), UInt8(ascii: "L"): c = UInt8(ascii: "1")
            default: break
            }
            guard alphabet.contains(c) else {
                out.wipeSharedStorage()
                throw OTPCoreError(.invalidCode, "the recovery code has a character outside its alphabet")
            }
            out.append(c)
        }
        guard out.count == symbols else {
            out.wipeSharedStorage()
            throw OTPCoreError(.invalidCode, "a recovery code has exactly \(symbols) letters and digits")
        }
        return out
    }
}
