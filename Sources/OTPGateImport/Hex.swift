/// Hex digits to bytes (either case, even length), as pam_oath and PSKC key files write them.
public enum Hex {
    public static func decode(_ s: String) -> [UInt8]? {
        let b = Array(s.utf8)
        guard !b.isEmpty, b.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(b.count / 2)
        for i in stride(from: 0, to: b.count, by: 2) {
            guard let h = nibble(b[i]), let l = nibble(b[i + 1]) else { return nil }
            out.append(h << 4 | l)
        }
        return out
    }
}
