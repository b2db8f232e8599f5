import Foundation
import OTPGateProtocol
@testable import OTPGateServer
import OTPGateStore
import Testing

/// Changing an enrolled user's factors on the public socket takes a current code,
/// checked and used up like a login; the admin socket needs none. And nothing secret
/// reaches the audit trail or the log.
@Suite("RequestHandler: factor changes")
struct RequestHandlerFactorChangeTests {
    /// root on the public socket acting on itself, as the CLI run by root does.
    static let me = HandlerFixture.pam

    @Test func factorChangesOnThePublicSocketNeedACurrentCode() throws {
        let f = try HandlerFixture()
        let first = try f.enroll("root", name: "a", as: Self.me)
        #expect(first.recoveryCodes.count == 10)
        f.clock.advance(seconds: 30)

        let noCode = f.call(.enrollBegin(EnrollBeginRequest(user: "root", name: "b", kind: .hotp)), as: Self.me)
        #expect(noCode.error == .forbidden)
        #expect(noCode.failure?.message == "a current code is needed to change the factors of an enrolled user")
        #expect(try f.auditEvents("root").last == "forbidden", "a missing code is audited")
        let second = try f.enroll("root", kind: .hotp, name: "b", as: Self.me, code: first.code())
        #expect(second.recoveryCodes.isEmpty, "recovery codes come only with the first token")
        #expect(try f.call(.status(StatusRequest(user: "root")), as: Self.me).result(StatusResult.self).tokens.count == 2)

        let remove = { (code: String?) in f.call(.tokenRemove(TokenRemoveRequest(user: "root", token: first.id, code: code)), as: Self.me) }
        #expect(remove(nil).error == .forbidden)
        #expect(remove("").error == .forbidden)
        #expect(remove(first.wrongCode()).error == .invalidCode, "checked like a login")
        #expect(remove(first.code()).error == .replayedCode, "used up by the enrolment of b")
        f.clock.advance(seconds: 30)
        #expect(try remove(first.code()).result(TokenRemoveResult.self).enrolled)

        let regenerate = { (code: String?) in f.call(.recoveryRegenerate(RecoveryRegenerateRequest(user: "root", code: code)), as: Self.me) }
        #expect(regenerate(nil).error == .forbidden)
        let fresh = try regenerate(second.code(counter: 1)).result(RecoveryRegenerateResult.self).recoveryCodes
        #expect(fresh.count == 10)
        #expect(Set(fresh).isDisjoint(with: first.recoveryCodes))
        #expect(f.verify("root", first.recoveryCodes[0]).error == .invalidCode, "the old codes are gone")
        #expect(try f.verify("root", fresh[0]).result(VerifyResult.self).factor == .recovery)

        // By name too; the last token gone means not enrolled.
        let last = f.call(.tokenRemove(TokenRemoveRequest(user: "root", token: "b", code: second.code(counter: 2))), as: Self.me)
        #expect(try last.result(TokenRemoveResult.self).enrolled == false)
        #expect(try f.call(.status(StatusRequest(user: "root")), as: Self.me).result(StatusResult.self).enrolled == false)

        // The admin socket needs no code.
        let alice = try f.enroll("alice")
        #expect(f.call(.recoveryRegenerate(RecoveryRegenerateRequest(user: "alice"))).isSuccess)
        #expect(try f.call(.tokenRemove(TokenRemoveRequest(user: "alice", token: alice.id))).result(TokenRemoveResult.self).enrolled == false)
    }

    @Test func nothingSecretIsAuditedOrLogged() throws {
        let f = try HandlerFixture()
        let alice = try f.enroll("alice")
        let bob = try f.enroll("bob", kind: .hotp)
        f.clock.advance(seconds: 30)
        let codes = [alice.code(steps: -1), alice.code(), bob.code(counter: 0), bob.code(counter: 1), alice.wrongCode()]
        #expect(f.verify("alice", codes[1], rhost: "192.0.2.1").isSuccess)
        #expect(f.verify("bob", codes[3]).isSuccess)
        #expect(f.verify("alice", codes[4]).error == .invalidCode)
        #expect(f.verify("alice", alice.recoveryCodes[0]).isSuccess)
        #expect(f.call(.adminReset(AdminResetRequest(user: "bob"))).isSuccess)

        let audit = try f.store.auditEvents(limit: 1000).map { "\($0.event) \($0.user ?? "") \($0.service ?? "") \($0.rhost ?? "") \($0.detail ?? "")" }
            .joined(separator: "\n")
        #expect(audit.contains("verify.ok alice sshd 192.0.2.1"), "control: the trail is there to search")
        for text in [audit, f.log.text] {
            for secret in [alice.uriSecret, bob.uriSecret] + alice.recoveryCodes + bob.recoveryCodes {
                #expect(!text.contains(secret))
                #expect(!text.contains(secret.replacingOccurrences(of: "-", with: "")))
            }
            // Whole runs of digits only: a code may occur inside a longer number.
            let numbers = Set(text.split { !$0.isNumber }.map(String.init))
            for code in codes { #expect(!numbers.contains(code), "a code in \(text)") }
            #expect(!text.contains("otpauth://"))
        }
    }
}
