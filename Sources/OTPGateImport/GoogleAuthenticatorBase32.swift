/// Base32 exactly as google-authenticator-libpam's `base32_decode` reads a secret:
/// spaces, tabs, CR, LF and hyphens are skipped; `0`, `1` and `8` are read as the
/// letters O, L and B they are mistaken for; case does not matter; anything else
/// (including `=` padding) makes the whole secret invalid; bits left over after the
/// last whole byte are dropped, whatever the length.
public enum GoogleAuthenticatorBase32 {
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for c0 in text {
            var c = c0
            switch c {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"), UInt8(ascii: "-"):
                continue
            case UInt8(ascii: "0"): c = UInt8(ascii: "O")
            case UInt8(ascii: "1"): c = UInt8(ascii: "L")
            case UInt8(ascii: "8"): c = UInt8(ascii: "B")
            default: break
            }
            let value: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = c - UInt8(ascii: "a")
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = c - UInt8(ascii: "2") + 26
            default: return nil
            }
            buffer = (buffer << 5 | UInt32(value)) & 0xffff
            bits += 5
            if bits >= 8 {
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits - 8)))
                bits -= 8
            }
        }
        return out
    }
}
