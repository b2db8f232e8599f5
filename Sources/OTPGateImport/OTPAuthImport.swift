import Foundation
import OTPCore
import OTPGateProtocol

/// Reads authenticator exports for one user: `otpauth://` URIs (Key Uri Format) and
/// Google Authenticator's "Transfer accounts" QR payload,
/// `otpauth-migration://offline?data=…` (base64 of a small protobuf message, see
/// `MigrationPayload`), one per line, as a QR reader such as `zbarimg` prints them.
/// Blank lines and `#` comments are skipped. (URIs are read from a file or stdin,
/// never from the command line, where every process could read the secrets.)
public enum OTPAuthImport {
    public static let tool = "otpauth"

    public static func parse(_ bytes: [UInt8], file: String, user: String) -> ImportedUser {
        var result = ImportedUser(user: user, source: "\(tool) \(file)")
        var names = Set<String>()
        func add(_ token: AdminImportRequest.Token, line: Int) {
            var t = token
            var name = t.name
            var k = 2
            while names.contains(name) {
                name = String(t.name.prefix(60)) + "-\(k)"
                k += 1
            }
            names.insert(name)
            t.name = name
            result.tokens.append(t)
        }
        // Split as bytes: as Characters, "\r\n" is one and would not match "\n".
        for (index, raw) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let n = index + 1
            let line = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            // zbarimg prints "QR-Code:" before each payload.
            let uri = line.hasPrefix("QR-Code:") ? String(line.dropFirst("QR-Code:".count)) : line
            if uri.lowercased().hasPrefix("otpauth-migration://") {
                switch MigrationPayload.parse(uri) {
                case .failure(let message):
                    result.issues.append(ImportIssue(.error, file: file, line: n, "\(message); not imported"))
                case .success(let payload):
                    if payload.batchSize > 1 {
                        result.issues.append(ImportIssue(
                            .warning, file: file, line: n,
                            "this is QR code \(payload.batchIndex + 1) of \(payload.batchSize) of one export; import the others too"))
                    }
                    for (i, entry) in payload.entries.enumerated() {
                        let label = "entry \(i + 1)"
                        if let problem = entry.problem {
                            result.issues.append(ImportIssue(.error, file: file, line: n, "\(label): \(problem); not imported"))
                            continue
                        }
                        guard let secret = ImportedSecret.check(entry.secret, token: label, file: file, line: n, issues: &result.issues) else { continue }
                        add(
                            AdminImportRequest.Token(
                                name: tokenName(issuer: entry.issuer, account: entry.name), kind: entry.hotp ? .hotp : .totp,
                                algorithm: entry.algorithm, digits: entry.digits, period: entry.hotp ? nil : 30, secret: secret,
                                counter: entry.hotp ? Int64(clamping: entry.counter) : nil),
                            line: n)
                    }
                }
                continue
            }
            let parsed: OTPAuthURI
            do {
                parsed = try OTPAuthURI(parsing: uri)
            } catch {
                result.issues.append(ImportIssue(.error, file: file, line: n, "\(error.message); not imported"))
                continue
            }
            guard let secret = ImportedSecret.check(parsed.secret, token: parsed.account, file: file, line: n, issues: &result.issues) else { continue }
            let hotp = parsed.parameters.kind == .hotp
            add(
                AdminImportRequest.Token(
                    name: tokenName(issuer: parsed.issuer, account: parsed.account), kind: hotp ? .hotp : .totp,
                    algorithm: TokenAlgorithm(rawValue: parsed.parameters.algorithm.rawValue) ?? .sha1,
                    digits: parsed.parameters.digits, period: hotp ? nil : Int(parsed.parameters.period), secret: secret,
                    counter: hotp ? Int64(clamping: parsed.counter) : nil),
                line: n)
        }
        if result.tokens.isEmpty && !result.issues.contains(where: { $0.severity == .error }) {
            result.issues.append(ImportIssue(.error, file: file, "no otpauth:// or otpauth-migration:// URI found"))
        }
        return result
    }

    /// "Issuer:account", cut to the 64 bytes a token name may have, without control characters.
    static func tokenName(issuer: String?, account: String) -> String {
        var name = [issuer, account].compactMap { $0?.isEmpty == false ? $0 : nil }.joined(separator: ":")
        name = String(name.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }.map(Character.init))
        if name.isEmpty { name = "imported" }
        while name.utf8.count > 64 { name.removeLast() }
        return name
    }
}
