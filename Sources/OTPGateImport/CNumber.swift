/// The C library's number parsing, as the peers use it (`strtoul`, `strtol`), so
/// that a file means to otpgate what it meant to them: leading white space (which
/// includes newlines) skipped, an optional sign, decimal digits.
enum CNumber {
    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0d) }

    /// Parses from `start`; returns the value (wrapped as `strtoul` does for a minus
    /// sign, saturated on overflow with `overflow` set) and where parsing stopped.
    /// No digits: value 0 and `end == start`, as `strtoul` reports it.
    static func strtoul(_ bytes: [UInt8], from start: Int) -> (value: UInt64, end: Int, overflow: Bool) {
        var i = start
        while i < bytes.count, isSpace(bytes[i]) { i += 1 }
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        let digitsStart = i
        var value: UInt64 = 0
        var overflow = false
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(bytes[i] - UInt8(ascii: "0")))
            if o1 || o2 { overflow = true }
            value = overflow ? UInt64.max : a
            i += 1
        }
        guard i > digitsStart else { return (0, start, false) }
        if negative && !overflow { value = 0 &- value }
        return (value, i, overflow)
    }

    /// `strtol` without its end pointer: what the peers get for a field they read
    /// with `strtol(value, NULL, 10)` (garbage reads as 0).
    static func strtol(_ text: some Collection<UInt8>) -> Int64 {
        let bytes = Array(text)
        var i = 0
        while i < bytes.count, isSpace(bytes[i]) { i += 1 }
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        var value: Int64 = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(bytes[i] - UInt8(ascii: "0")))
            if o1 || o2 { return negative ? Int64.min : Int64.max }
            value = a
            i += 1
        }
        return negative ? -value : value
    }
}
