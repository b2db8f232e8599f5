import OTPGateProtocol

/// Reads a `~/.google_authenticator` file the way pam_google_authenticator does
/// (google-authenticator-libpam, src/pam_google_authenticator.c), so the token
/// otpgate stores accepts the codes the peer accepted, and reports every line and
/// option it cannot carry over.
///
/// The file: line 1 is the secret; option lines start with `" ` and an upper-case
/// name; other lines are 8-digit scratch codes. The peer's own rules, followed here:
/// options are found anywhere (the first occurrence counts), `TOTP_AUTH` anywhere in
/// the text turns TOTP on, `HOTP_COUNTER` above 0 turns HOTP on and wins over TOTP,
/// codes are always 6 digits of HMAC-SHA1, and scratch codes are read from line 2 on,
/// skipping option lines and blank lines, up to the first line that is not one.
public enum GoogleAuthenticatorFile {
    public static let tool = "google-authenticator"

    public static func parse(_ bytes: [UInt8], file: String, user: String, tokenName: String = "google-authenticator") -> ImportedUser {
        var result = ImportedUser(user: user, source: "\(tool) \(file)")
        func refuse(_ message: String, line: Int? = nil) -> ImportedUser {
            result.tokens = []
            result.scratchCodes = []
            result.issues.append(ImportIssue(.error, file: file, line: line, message))
            return result
        }
        guard !bytes.isEmpty else { return refuse("the file is empty (pam_google_authenticator refuses it too)") }
        guard !bytes.contains(0) else { return refuse("the file contains NUL bytes (pam_google_authenticator refuses it too)") }

        let lines = Lines(bytes)
        let firstEnd = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
        guard let secret = GoogleAuthenticatorBase32.decode(bytes[0..<firstEnd]) else {
            return refuse(
                "the secret is not base32 as google-authenticator reads it (A-Z, 2-7, the look-alikes 0, 1, 8, no '=' padding)",
                line: 1)
        }
        guard !secret.isEmpty else { return refuse("line 1 holds no secret", line: 1) }

        let options = Options(bytes, lines: lines)
        for (key, lineNumbers) in options.all where lineNumbers.count > 1 {
            result.issues.append(ImportIssue(
                .warning, file: file, line: lineNumbers[1],
                "option \(key) repeated; the first one (line \(lineNumbers[0])) is used, as google-authenticator does"))
        }
        for (key, lineNumbers) in options.all where !Options.known.contains(key) {
            result.issues.append(ImportIssue(.warning, file: file, line: lineNumbers[0], "option \(key) is unknown; ignored"))
        }

        // Mode, as the peer picks it.
        let counterValue = options.value("HOTP_COUNTER").map { CNumber.strtol($0.value) }
        let totp = bytes.contains(subsequence: Array("\" TOTP_AUTH".utf8))
        let hotp = (counterValue ?? 0) > 0
        if let c = counterValue, c <= 0 {
            result.issues.append(ImportIssue(
                .warning, file: file, line: options.value("HOTP_COUNTER")?.line,
                "HOTP_COUNTER \(c) is below 1, so google-authenticator does not use HOTP" + (totp ? "; TOTP is used" : "")))
        }
        guard hotp || totp else {
            return refuse("neither TOTP_AUTH nor HOTP_COUNTER: google-authenticator accepts no code from this file, only scratch codes")
        }
        if hotp && totp {
            result.issues.append(ImportIssue(
                .warning, file: file, line: options.value("HOTP_COUNTER")?.line,
                "both TOTP_AUTH and HOTP_COUNTER: google-authenticator uses HOTP only, and so does otpgate"))
        }

        var token = AdminImportRequest.Token(
            name: tokenName, kind: hotp ? .hotp : .totp, algorithm: .sha1, digits: 6, period: hotp ? nil : 30, secret: "")
        guard let encoded = ImportedSecret.check(secret, token: tokenName, file: file, line: 1, issues: &result.issues) else {
            result.tokens = []
            return result
        }
        token.secret = encoded

        // WINDOW_SIZE and STEP_SIZE: the peer refuses every login when they are invalid.
        var window: Int?
        if let w = options.value("WINDOW_SIZE") {
            guard let n = Options.strictNumber(w.value), (1...100).contains(n) else {
                return refuse("WINDOW_SIZE is not a number from 1 to 100 (google-authenticator refuses every login with this file)", line: w.line)
            }
            window = n
        }
        if hotp {
            let next = UInt64(counterValue!)
            token.counter = Int64(next)
            token.watermark = Int64(next - 1)  // the peer would accept `next` and later only
            if let window, window > 1 {
                result.issues.append(ImportIssue(
                    .warning, file: file, line: options.value("WINDOW_SIZE")?.line,
                    "WINDOW_SIZE \(window): google-authenticator looked \(window - 1) counters ahead; otpgate looks ahead by the daemon's policy.hotp_look_ahead"))
            }
            if let d = options.value("DISALLOW_REUSE") {
                result.issues.append(ImportIssue(
                    .warning, file: file, line: d.line, "DISALLOW_REUSE has no effect on HOTP (each counter is used once anyway)"))
            }
        } else {
            if let s = options.value("STEP_SIZE") {
                guard let n = Options.strictNumber(s.value), (1...60).contains(n) else {
                    return refuse("STEP_SIZE is not a number from 1 to 60 (google-authenticator refuses every login with this file)", line: s.line)
                }
                token.period = n
            }
            if let window {
                // The peer accepts steps -(w-1)/2 ... w/2 around the clock; otpgate's
                // window is symmetric, so w/2 either side covers all of them.
                let half = window / 2
                token.window = min(half, 10)
                if half > 10 {
                    result.issues.append(ImportIssue(
                        .warning, file: file, line: options.value("WINDOW_SIZE")?.line,
                        "WINDOW_SIZE \(window) is wider than otpgate's widest window (10 steps either side); narrowed to 10 (a clock this far off wants 'otpgate resync')"))
                }
            }
            if let d = options.value("DISALLOW_REUSE") {
                var highest: UInt64?
                var i = 0
                let v = Array(d.value)
                while i < v.count {
                    while i < v.count, [0x20, 0x09, 0x0d, 0x0a].contains(v[i]) { i += 1 }
                    guard i < v.count else { break }
                    let n = CNumber.strtoul(v, from: i)
                    guard n.end > i, !n.overflow, n.end == v.count || [0x20, 0x09, 0x0d, 0x0a].contains(v[n.end]) else {
                        return refuse("DISALLOW_REUSE holds something other than time steps (google-authenticator refuses every login with this file)", line: d.line)
                    }
                    let step = UInt64(UInt32(truncatingIfNeeded: n.value))
                    highest = max(highest ?? step, step)
                    i = n.end
                }
                token.watermark = highest.map { Int64($0) }
            } else {
                result.issues.append(ImportIssue(
                    .warning, file: file, line: nil,
                    "no DISALLOW_REUSE: google-authenticator let a code be used again within its window; otpgate accepts each code once"))
            }
            if let s = options.value("TIME_SKEW") {
                let skew = CNumber.strtol(s.value)
                guard abs(skew) <= 100_000 else { return refuse("TIME_SKEW \(skew) is beyond 100000 steps", line: s.line) }
                token.skew = Int(skew)
            }
        }
        if let r = options.value("RATE_LIMIT") {
            let fields = String(decoding: r.value, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" })
            let what = fields.count >= 2 ? "\(fields[0]) logins per \(fields[1]) s" : "its limit"
            result.issues.append(ImportIssue(
                .warning, file: file, line: r.line,
                "RATE_LIMIT (\(what)) is not carried over: otpgate's limiter (failures with backoff, then lockout) applies to every user"))
        }
        if let r = options.value("RESETTING_TIME_SKEW") {
            result.issues.append(ImportIssue(
                .warning, file: file, line: r.line,
                "RESETTING_TIME_SKEW (a skew search in progress) is dropped; 'otpgate resync' does this on purpose"))
        }

        // Scratch codes, read as check_scratch_codes reads them.
        let scratch = Scratch(bytes, lines: lines)
        result.scratchCodes = scratch.codes.map { String($0.value) }
        if scratch.codes.count > 20 {
            return refuse("\(scratch.codes.count) scratch codes; otpgate keeps at most 20 (google-authenticator writes at most 10)")
        }
        for n in 2...max(2, lines.count) where n <= lines.count {
            let text = lines.text(n)
            let trimmed = text.filter { !CNumber.isSpace($0) }
            if trimmed.isEmpty || text.first == UInt8(ascii: "\"") || scratch.codes.contains(where: { $0.line == n }) { continue }
            let looksLikeCode = trimmed.count == 8 && trimmed.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
            if looksLikeCode, let stop = scratch.stopLine, n >= stop {
                result.issues.append(ImportIssue(
                    .warning, file: file, line: n,
                    n == stop
                        ? "not a scratch code as google-authenticator reads one (\(scratch.stopReason)); it and the codes after it were never usable, so they are not imported"
                        : "not imported: google-authenticator stops reading scratch codes at line \(stop), so this code was never usable"))
            } else {
                result.issues.append(ImportIssue(.warning, file: file, line: n, "not understood (google-authenticator ignores it too)"))
            }
        }
        result.tokens = [token]
        // Dictionary order is not stable: report in file order.
        result.issues = result.issues.enumerated().sorted { ($0.element.line ?? 0, $0.offset) < ($1.element.line ?? 0, $1.offset) }.map(\.element)
        return result
    }

    /// The file's lines, split at "\n" (a CR before it stays part of the line), numbered from 1.
    struct Lines {
        let bytes: [UInt8]
        /// Start offset of each line.
        let starts: [Int]

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
            var starts = [0]
            for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") && i + 1 < bytes.count { starts.append(i + 1) }
            self.starts = starts
        }

        var count: Int { starts.count }

        func number(at offset: Int) -> Int {
            var low = 0
            var high = starts.count - 1
            while low < high {
                let mid = (low + high + 1) / 2
                if starts[mid] <= offset { low = mid } else { high = mid - 1 }
            }
            return low + 1
        }

        func text(_ n: Int) -> ArraySlice<UInt8> {
            let start = starts[n - 1]
            var end = n < starts.count ? starts[n] - 1 : bytes.count
            if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            return bytes[start..<max(start, end)]
        }
    }

    /// Option lines as `get_cfg_value` finds them: lines (split at runs of CR and LF)
    /// that start with `" KEY` followed by the end, a blank, CR or LF.
    struct Options {
        static let known: Set<String> = [
            "TOTP_AUTH", "HOTP_COUNTER", "STEP_SIZE", "WINDOW_SIZE", "DISALLOW_REUSE", "RATE_LIMIT", "TIME_SKEW",
            "RESETTING_TIME_SKEW", "LAST0", "LAST1", "LAST2", "LAST3", "LAST4", "LAST5", "LAST6", "LAST7", "LAST8", "LAST9",
        ]
        /// Every key, with the lines it appears on.
        private(set) var all: [String: [Int]] = [:]
        private var first: [String: (value: ArraySlice<UInt8>, line: Int)] = [:]

        init(_ bytes: [UInt8], lines: Lines) {
            var i = 0
            while i < bytes.count {
                var end = i
                while end < bytes.count, bytes[end] != 0x0d, bytes[end] != 0x0a { end += 1 }
                if end - i >= 2, bytes[i] == UInt8(ascii: "\""), bytes[i + 1] == UInt8(ascii: " ") {
                    var k = i + 2
                    while k < end, bytes[k] != 0x20, bytes[k] != 0x09 { k += 1 }
                    let key = String(decoding: bytes[(i + 2)..<k], as: UTF8.self)
                    var v = k
                    while v < end, bytes[v] == 0x20 || bytes[v] == 0x09 { v += 1 }
                    let line = lines.number(at: i)
                    if !key.isEmpty {
                        all[key, default: []].append(line)
                        if first[key] == nil { first[key] = (bytes[v..<end], line) }
                    }
                }
                i = end
                while i < bytes.count, bytes[i] == 0x0d || bytes[i] == 0x0a { i += 1 }
            }
        }

        func value(_ key: String) -> (value: ArraySlice<UInt8>, line: Int)? { first[key] }

        /// A number as `step_size`/`window_size` accept it: digits, then nothing or a blank.
        static func strictNumber(_ text: ArraySlice<UInt8>) -> Int? {
            let bytes = Array(text)
            guard !bytes.isEmpty else { return nil }
            let n = CNumber.strtoul(bytes, from: 0)
            guard n.end > 0, !n.overflow, n.end == bytes.count || [0x20, 0x09, 0x0d, 0x0a].contains(bytes[n.end]) else { return nil }
            return Int(Int32(truncatingIfNeeded: n.value))
        }
    }

    /// The scratch codes `check_scratch_codes` would accept, and where it stops.
    struct Scratch {
        var codes: [(value: Int, line: Int)] = []
        var stopLine: Int?
        var stopReason = ""

        init(_ bytes: [UInt8], lines: Lines) {
            var p = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            while true {
                while p < bytes.count, bytes[p] == 0x0d || bytes[p] == 0x0a { p += 1 }
                if p < bytes.count, bytes[p] == UInt8(ascii: "\"") {
                    while p < bytes.count, bytes[p] != 0x0a { p += 1 }
                    continue
                }
                guard p < bytes.count else { return }
                let n = CNumber.strtoul(bytes, from: p)
                let value = Int(Int32(truncatingIfNeeded: n.value))
                let endsLine = n.end >= bytes.count || bytes[n.end] == 0x0d || bytes[n.end] == 0x0a
                guard n.end > p, endsLine, value >= 10_000_000, value < 100_000_000 else {
                    stopLine = lines.number(at: p)
                    stopReason =
                        n.end == p ? "no number"
                        : !endsLine ? "something follows the number, a blank perhaps"
                        : "not 8 digits starting with 1-9"
                    return
                }
                // strtoul skips leading white space, newlines included: the code may sit on a later line.
                var digit = p
                while digit < n.end, CNumber.isSpace(bytes[digit]) { digit += 1 }
                codes.append((value, lines.number(at: digit)))
                p = n.end
            }
        }
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard !subsequence.isEmpty, subsequence.count <= count else { return false }
        for i in 0...(count - subsequence.count) where self[i] == subsequence[0] {
            if Array(self[i..<(i + subsequence.count)]) == subsequence { return true }
        }
        return false
    }
}
