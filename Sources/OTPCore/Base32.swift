/// Base32 as in RFC 4648 §6, the encoding authenticator apps use for secrets.
public enum Base32 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// Upper case, with `=` padding only when `padded` is set (otpauth URIs omit it).
    public static func encode(_ bytes: [UInt8], padded: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 4) / 5 * 8)
        bytes.withUnsafeBytes { raw in encode(raw, padded: padded) { out.append($0) } }
        return String(decoding: out, as: UTF8.self)
    }

    /// The same text appended to `out`, for a secret: no String or array of it is made.
    public static func encode(_ bytes: UnsafeRawBufferPointer, padded: Bool = false, into out: SecretBytes) {
        encode(bytes, padded: padded) { out.append($0) }
    }

    public static func encode(_ bytes: [UInt8], padded: Bool = false, into out: SecretBytes) {
        bytes.withUnsafeBytes { encode($0, padded: padded, into: out) }
    }

    private static func encode(_ bytes: UnsafeRawBufferPointer, padded: Bool, emit: (UInt8) -> Void) {
        var buffer: UInt32 = 0
        var bits = 0
        var written = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                emit(alphabet[Int(buffer >> UInt32(bits - 5) & 0x1f)])
                written += 1
                bits -= 5
            }
        }
        if bits > 0 {
            emit(alphabet[Int(buffer << UInt32(5 - bits) & 0x1f)])
            written += 1
        }
        if padded {
            while written % 8 != 0 {
                emit(UInt8(ascii: "="))
                written += 1
            }
        }
    }

    /// Decodes what people and other tools write: lower case, spaces and hyphens
    /// between groups, and missing padding are all accepted. Anything else (other
    /// characters, padding in the middle, a length no encoder produces) is an error
    /// that says where. Bits left over after the last whole byte are ignored, as
    /// encoders that emit random characters leave them.
    /// The result is sized up front and never grows, so a decoded secret leaves no
    /// partial copies behind in the heap.
    public static func decode(_ text: String) throws(OTPCoreError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 5 / 8 + 1)
        var buffer: UInt32 = 0
        var bits = 0
        var symbols = 0
        var padding = 0
        for (position, c) in text.utf8.enumerated() {
            let value: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = c - UInt8(ascii: "a")
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = c - UInt8(ascii: "2") + 26
            case UInt8(ascii: " "), UInt8(ascii: "-"):
                if padding > 0 {
                    throw OTPCoreError(.invalidBase32, "base32 text continues after its padding")
                }
                continue
            case UInt8(ascii: "="):
                padding += 1
                continue
            default:
                throw OTPCoreError(
                    .invalidBase32,
                    "base32 text has a character that is not A-Z or 2-7 at position \(position + 1)")
            }
            if padding > 0 {
                throw OTPCoreError(.invalidBase32, "base32 text continues after its padding")
            }
            symbols += 1
            buffer = (buffer << 5 | UInt32(value)) & 0xffff
            bits += 5
            if bits >= 8 {
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits - 8)))
                bits -= 8
            }
        }
        // 8 symbols carry 5 bytes; 1, 3 or 6 symbols in a last group carry no whole byte.
        if [1, 3, 6].contains(symbols % 8) {
            throw OTPCoreError(
                .invalidBase32, "base32 text has an impossible length (\(symbols) symbols)")
        }
        if padding > 0 && (symbols + padding) % 8 != 0 {
            throw OTPCoreError(.invalidBase32, "base32 padding does not fill the last group")
        }
        return out
    }
}
