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
