import Foundation
import OTPCore
import OTPGateProtocol

/// Reads pam_oath's usersfile (`/etc/users.oath`, liboath's usersfile.c): one token
/// per line, `TYPE USER PIN SECRET [COUNTER [LASTOTP [TIMESTAMP]]]`, fields split at
/// any white space, `#` lines and blank lines skipped.
///
/// What the fields mean to liboath, and so to this importer:
/// - TYPE `HOTP`, `HOTP/E[/6|7|8]` (counter) and `HOTP/T30[/6|7|8]`, `HOTP/T60[/…]`
///   (time, 30 or 60 s); always HMAC-SHA1.
/// - PIN `-` (none) and `+` (checked by another module) import; any other value is a
///   static password kept in plain text beside the key: importing only the key
///   would silently drop that factor, so the line is refused.
/// - SECRET is hex, at most 32 bytes (liboath's buffer).
/// - HOTP COUNTER: without a last OTP, the counter of the next code to try; with one,
///   the counter of that last accepted code (liboath writes back the counter that
///   matched and refuses the same OTP again), so the next is COUNTER + 1.
/// - TOTP: the last OTP and its local-time TIMESTAMP (`%Y-%m-%dT%H:%M:%SL`) say which
///   step was used last; that step becomes the replay watermark.
public enum OathUsersFile {
    public static let tool = "pam_oath"

    public static func parse(_ bytes: [UInt8], file: String) -> (users: [ImportedUser], issues: [ImportIssue]) {
        var order: [String] = []
        var users: [String: ImportedUser] = [:]
        var issues: [ImportIssue] = []
        if bytes.contains(0) {
            return ([], [ImportIssue(.error, file: file, "the file contains NUL bytes")])
        }
        // Split as bytes: as Characters, "\r\n" is one and would not match "\n".
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (index, raw) in lines.enumerated() {
            let n = index + 1
            let fields = raw.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0d || $0 == 0x0b || $0 == 0x0c })
                .map { String(decoding: $0, as: UTF8.self) }
            guard let type = fields.first, !type.hasPrefix("#") else { continue }
            func bad(_ message: String) { issues.append(ImportIssue(.error, file: file, line: n, message)) }
            guard let (digits, step) = parseType(type) else {
                bad("token type '\(type.prefix(20))' is not HOTP, HOTP/E[/6|7|8], HOTP/T30[/6|7|8] or HOTP/T60[/6|7|8]; not imported")
                continue
            }
            guard fields.count >= 2 else { bad("no user name; not imported"); continue }
            let user = fields[1]
            guard fields.count >= 4 else { bad("user \(user): no secret (fields: type, user, PIN, hex secret); not imported"); continue }
            var lineIssues: [ImportIssue] = []
            switch fields[2] {
            case "-": break
            case "+":
                lineIssues.append(ImportIssue(
                    .warning, file: file, line: n,
                    "user \(user): PIN '+' means another PAM module checked the password; keep that module in the stack"))
            default:
                bad("user \(user): a static PIN (a password in plain text) guards this token; importing the key alone would drop that factor, so it is not imported (set the PIN to '-' once the password is checked elsewhere)")
                continue
            }
            guard let secret = Hex.decode(fields[3]) else {
                bad("user \(user): the secret is not an even number of hex digits; not imported")
                continue
            }
            guard secret.count <= 32 else {
                bad("user \(user): the secret has \(secret.count) bytes; liboath reads at most 32, so pam_oath never accepted a code for it; not imported")
                continue
            }
            var counter: UInt64?
            if fields.count >= 5 {
                guard let c = UInt64(fields[4]) else {
                    bad("user \(user): the counter is not a whole number; not imported")
                    continue
                }
                counter = c
            }
            let lastOTP = fields.count >= 6 ? fields[5] : nil
            var lastTime: Int64?
            if fields.count >= 7 {
                guard let t = localTime(fields[6]) else {
                    bad("user \(user): the timestamp is not like 2009-12-07T23:23:49L; not imported")
                    continue
                }
                lastTime = t
            }
            if fields.count > 7 {
                lineIssues.append(ImportIssue(.warning, file: file, line: n, "user \(user): fields after the timestamp ignored"))
            }

            var entry = users[user] ?? ImportedUser(user: user, source: "\(tool) \(file)")
            if users[user] == nil { order.append(user) }
            let name = entry.tokens.isEmpty ? "pam_oath" : "pam_oath-\(entry.tokens.count + 1)"
            guard let encoded = ImportedSecret.check(secret, token: name, file: file, line: n, issues: &lineIssues) else {
                issues += lineIssues
                continue
            }
            var token = AdminImportRequest.Token(
                name: name, kind: step == 0 ? .hotp : .totp, algorithm: .sha1, digits: digits,
                period: step == 0 ? nil : step, secret: encoded)
            if step == 0 {
                let c = counter ?? 0
                if lastOTP != nil {
                    token.watermark = Int64(clamping: c)
                    token.counter = Int64(clamping: c) &+ 1
                } else {
                    token.counter = Int64(clamping: c)
                    token.watermark = c > 0 ? Int64(clamping: c - 1) : nil
                }
            } else if let lastOTP, let lastTime {
                token.watermark = Int64(usedStep(lastOTP, secret: secret, digits: digits, period: Int64(step), at: lastTime))
            } else if lastOTP != nil {
                lineIssues.append(ImportIssue(
                    .warning, file: file, line: n,
                    "user \(user): a last OTP without its time; which step it used is unknown, so no replay watermark is set"))
            }
            entry.tokens.append(token)
            entry.issues += lineIssues
            users[user] = entry
        }
        return (order.compactMap { users[$0] }, issues)
    }

    static func parseType(_ s: String) -> (digits: Int, step: Int)? {
        switch s {
        case "HOTP", "HOTP/E", "HOTP/E/6": return (6, 0)
        case "HOTP/E/7": return (7, 0)
        case "HOTP/E/8": return (8, 0)
        case "HOTP/T30", "HOTP/T30/6": return (6, 30)
        case "HOTP/T30/7": return (7, 30)
        case "HOTP/T30/8": return (8, 30)
        case "HOTP/T60", "HOTP/T60/6": return (6, 60)
        case "HOTP/T60/7": return (7, 60)
        case "HOTP/T60/8": return (8, 60)
        default: return nil
        }
    }

    /// liboath's timestamp, read in the local time zone as liboath wrote it.
    static func localTime(_ s: String) -> Int64? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone.current
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'L'"
        guard s.utf8.count == 20, let date = f.date(from: s) else { return nil }
        return Int64(date.timeIntervalSince1970)
    }

    /// The step at which `otp` was accepted around `time`: the matching step nearest
    /// to it within 100 steps (pam_oath's window is a module option this file does
    /// not record), or the step of `time` itself when none matches.
    static func usedStep(_ otp: String, secret: [UInt8], digits: Int, period: Int64, at time: Int64) -> UInt64 {
        let center = UInt64(max(0, time) / period)
        var best: UInt64?
        for distance in 0...UInt64(100) {
            // The later one first: a wrong guess then refuses a code too many, never too few.
            for step in [center &+ distance, center >= distance ? center - distance : center] {
                if best == nil, HOTP.codeString(secret: secret, counter: step, algorithm: .sha1, digits: digits) == otp {
                    best = step
                }
            }
        }
        return best ?? center
    }
}
