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

    /// A new code, formatted for display.
    public static func generate() throws(OTPCoreError) -> String {
        let random = try SecureRandom.bytes(symbols)
        // 32 symbols: the low 5 bits of a uniform byte are uniform.
        let chars = random.map { alphabet[Int($0 & 0x1f)] }
        return format(chars)
    }

    /// `count` distinct new codes.
    public static func generate(count: Int) throws(OTPCoreError) -> [String] {
        var codes: [String] = []
        while codes.count < count {
            let code = try generate()
            if !codes.contains(code) { codes.append(code) }
        }
        return codes
    }

    /// The canonical form to hash and compare: 15 upper-case symbols, no separators.
    public static func normalize(_ input: String) throws(OTPCoreError) -> [UInt8] {
        let bytes = Array(input.utf8)
        guard bytes.count <= 64 else { throw OTPCoreError(.invalidCode, "the recovery code is too long") }
        var out: [UInt8] = []
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
                throw OTPCoreError(.invalidCode, "the recovery code has a character outside its alphabet")
            }
            out.append(c)
        }
        guard out.count == symbols else {
            throw OTPCoreError(.invalidCode, "a recovery code has exactly \(symbols) letters and digits")
        }
        return out
    }

    static func format(_ chars: [UInt8]) -> String {
        stride(from: 0, to: chars.count, by: groupSize)
            .map { String(decoding: chars[$0..<min($0 + groupSize, chars.count)], as: UTF8.self) }
            .joined(separator: "-")
    }
}
