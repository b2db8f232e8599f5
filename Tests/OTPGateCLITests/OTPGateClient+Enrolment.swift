import OTPCore
import OTPGateClient
import OTPGateProtocol
import OTPGateTestSupport

extension OTPGateClient {
    /// enroll.begin and enroll.confirm with the first code computed from the secret
    /// (counter 0 for HOTP, the current step for TOTP), as an admin on the admin
    /// socket would (no current code needed).
    func enrol(user: String, name: String = "phone", kind: TokenKind = .hotp) async throws -> EnrolledToken {
        let begun = try await enrollBegin(EnrollBeginRequest(user: user, name: name, kind: kind))
        let secret = try Base32.decode(begun.secret)
        let first = HOTP.codeString(secret: secret, counter: kind == .hotp ? 0 : EnrolledToken.currentStep())
        let done = try await enrollConfirm(user: user, enrollment: begun.enrollment, code: first)
        return EnrolledToken(user: user, name: done.name, kind: kind, secret: secret, recoveryCodes: done.recoveryCodes ?? [])
    }
}

extension OTPGateClient {
    /// A HOTP token stored through admin.import with a secret of the test's own, its
    /// next code counter 1 (as after an enrolment confirmed with counter 0). No
    /// enrolment, so no recovery-code batch: that is one scrypt run at production
    /// parameters (about 40 ms of CPU), which the PAM-stack tables would pay per row.
    func importHOTP(user: String, name: String = "phone") async throws -> EnrolledToken {
        let secret = try SecureRandom.bytes(20)
        let token = AdminImportRequest.Token(
            name: name, kind: .hotp, algorithm: .sha1, digits: 6, period: nil, secret: Base32.encode(secret), counter: 1)
        let result = try await importTokens(AdminImportRequest(user: user, source: "test", tokens: [token]))
        guard result.outcome == .imported, result.tokens.count == 1 else { throw FixtureError("import of \(user)'s token: \(result)") }
        return EnrolledToken(user: user, name: name, kind: .hotp, secret: secret, confirmedCounter: 0)
    }
}
