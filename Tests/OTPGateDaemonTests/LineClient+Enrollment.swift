import Foundation
import OTPCore
import OTPGateProtocol
import Testing

extension LineClient {
    /// enroll.begin then enroll.confirm with the first code computed from the
    /// returned secret (counter 0 for HOTP, the current step for TOTP). Fails the
    /// test, with the replies, if either step does not succeed.
    func enroll(
        user: String, kind: String = "hotp", name: String? = nil, algorithm: OTPAlgorithm = .sha1, digits: Int = 6,
        period: Int64 = 30, code: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> EnrolledToken {
        var fields: [String: Any] = ["user": user, "kind": kind, "algorithm": algorithm.rawValue, "digits": digits]
        if kind == "totp" { fields["period"] = Int(period) }
        if let name { fields["name"] = name }
        if let code { fields["code"] = code }
        let begin = try call("enroll.begin", fields)
        let enrollment = try #require(begin.string("enrollment"), "enroll.begin: \(begin.text)", sourceLocation: sourceLocation)
        let secretText = try #require(begin.string("secret"), "enroll.begin: \(begin.text)", sourceLocation: sourceLocation)
        let secret = try Base32.decode(secretText)
        let counter: UInt64 = kind == "totp" ? UInt64(Int64(Date().timeIntervalSince1970) / period) : 0
        let first = HOTP.codeString(secret: secret, counter: counter, algorithm: algorithm, digits: digits)
        let confirm = try call("enroll.confirm", ["user": user, "enrollment": enrollment, "code": first])
        let tokenID = try #require(confirm.string("token"), "enroll.confirm: \(confirm.text)", sourceLocation: sourceLocation)
        return EnrolledToken(
            user: user, id: tokenID, name: confirm.string("name") ?? "", kind: kind, secret: secret, algorithm: algorithm,
            digits: digits, period: period, confirmedCounter: counter,
            recoveryCodes: confirm.array("recovery_codes")?.compactMap(\.stringValue) ?? [])
    }
}
