/// Turns what a person typed into the exact digits to compare, or says why not.
public enum OneTimeCode {
    /// Accepts exactly `digits` ASCII digits, optionally split into groups by single or
    /// repeated spaces ("123 456"). Rejects everything else: signs, letters, Unicode
    /// digits, tabs, newlines, NUL, leading or trailing spaces, a wrong count.
    ///
    /// The error message never repeats the input.
    public static func normalize(_ input: String, digits: Int) throws(OTPCoreError) -> [UInt8] {
        precondition(OTPParameters.digitRange.contains(digits))
        let bytes = Array(input.utf8)
        guard bytes.count <= 64 else {
            throw OTPCoreError(.invalidCode, "the code is too long")
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits)
        for (i, b) in bytes.enumerated() {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                out.append(b)
            case UInt8(ascii: " "):
                guard i > 0, i < bytes.count - 1 else {
                    throw OTPCoreError(.invalidCode, "the code has a leading or trailing space")
                }
            default:
                throw OTPCoreError(.invalidCode, "the code may contain only the digits 0-9")
            }
        }
        guard out.count == digits else {
            throw OTPCoreError(.invalidCode, "the code must have exactly \(digits) digits")
        }
        return out
    }
}
