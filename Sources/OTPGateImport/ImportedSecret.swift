import OTPCore
import OTPGateProtocol

/// Checks shared by every importer on a secret before it becomes a token.
enum ImportedSecret {
    /// Below this the store refuses a secret (see OTPStore.minSecretBytes).
    static let minBytes = 10
    /// RFC 4226 §4 R6: at least 128 bits.
    static let recommendedBytes = 16

    /// Nil (and an error issue) when too short; a warning when under 128 bits.
    static func check(_ secret: [UInt8], token: String, file: String, line: Int?, issues: inout [ImportIssue]) -> String? {
        if secret.count < minBytes {
            issues.append(ImportIssue(
                .error, file: file, line: line,
                "token \(token): the secret has \(secret.count * 8) bits; otpgate refuses secrets under \(minBytes * 8) bits (a few codes give them away): enrol this user afresh"))
            return nil
        }
        if secret.count < recommendedBytes {
            issues.append(ImportIssue(
                .warning, file: file, line: line,
                "token \(token): the secret has \(secret.count * 8) bits, less than the 128 RFC 4226 asks for; imported, but consider re-enrolling"))
        }
        return Base32.encode(secret)
    }
}
