/// Generation of token secrets.
public enum OTPSecret {
    /// 160 bits: the HMAC-SHA1 block size RFC 4226 recommends, and what apps expect.
    public static let defaultBytes = 20

    public static func generate(bytes: Int = defaultBytes) throws(OTPCoreError) -> [UInt8] {
        guard bytes >= 16 && bytes <= 64 else {
            throw OTPCoreError(.invalidParameters, "a secret has 16 to 64 bytes, not \(bytes)")
        }
        return try SecureRandom.bytes(bytes)
    }

    /// A secret grouped in fours (`ABCD EFGH ...`) for typing into an app by hand.
    public static func grouped(_ secret: [UInt8]) -> String {
        let text = Array(Base32.encode(secret).utf8)
        return stride(from: 0, to: text.count, by: 4)
            .map { String(decoding: text[$0..<min($0 + 4, text.count)], as: UTF8.self) }
            .joined(separator: " ")
    }
}
