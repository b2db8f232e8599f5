import Foundation
package import OTPCore
package import OTPGateProtocol

extension LineClient {
    /// enroll.begin then enroll.confirm with the first code computed from the
    /// returned secret (counter 0 for HOTP, the current step for TOTP). Throws, with
    /// the replies, if either step does not succeed.
    package func enroll(
        user: String, kind: TokenKind = .hotp, name: String? = nil, algorithm: OTPAlgorithm = .sha1, digits: Int = 6,
        period: Int64 = 30, code: String? = nil
    ) throws -> EnrolledToken {
        var fields: [String: Any] = ["user": user, "kind": kind.rawValue, "algorithm": algorithm.rawValue, "digits": digits]
        if kind == .totp { fields["period"] = Int(period) }
        if let name { fields["name"] = name }
        if let code { fields["code"] = code }
        let begin = try call("enroll.begin", fields)
        guard let enrollment = begin.string("enrollment"), let secretText = begin.string("secret") else {
            throw FixtureError("enroll.begin: \(begin.text)")
        }
        let secret = try Base32.decode(secretText)
        let counter: UInt64 = kind == .totp ? EnrolledToken.currentStep(period: period) : 0
        let first = HOTP.codeString(secret: secret, counter: counter, algorithm: algorithm, digits: digits)
        let confirm = try call("enroll.confirm", ["user": user, "enrollment": enrollment, "code": first])
        guard let tokenID = confirm.string("token") else { throw FixtureError("enroll.confirm: \(confirm.text)") }
        return EnrolledToken(
            user: user, id: tokenID, name: confirm.string("name") ?? "", kind: kind, secret: secret, algorithm: algorithm,
            digits: digits, period: period, confirmedCounter: counter,
            recoveryCodes: confirm.array("recovery_codes")?.compactMap(\.stringValue) ?? [])
    }
}
