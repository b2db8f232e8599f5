import OTPGateProtocol
import Testing

/// `Reply.writeLine(secrets:into:)`, how the daemon sends replies that carry a secret,
/// an otpauth URI or recovery codes, must give exactly the bytes `Reply.line` gives
/// for the same reply with those values as ordinary strings: clients see no change.
@Suite("Reply lines with secret members")
struct ReplySecretLineTests {
    /// A secret as the daemon holds it: bytes, never a String, lent to the writer.
    struct Secret: SecretText {
        let bytes: [UInt8]
        init(_ text: String) { bytes = Array(text.utf8) }
        func withUTF8Bytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { bytes.withUnsafeBytes(body) }
    }

    func written(_ reply: Reply, _ secrets: [String: SecretMember]) -> String {
        var out: [UInt8] = []
        reply.writeLine(secrets: secrets, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Escapes (quote, backslash, control characters), non-ASCII text and both ids.
    static let awkward = ["JBSWY3DPEHPK3PXP", "otpauth://totp/h%C3%A9:bob?secret=ABC&issuer=h%C3%A9", "q\"b\\s\u{1}\u{7f}\n\té"]

    @Test(arguments: [nil, "r1", "a\"b"] as [String?])
    func enrolmentBeginIsByteForByteTheStringLine(id: String?) {
        for secret in Self.awkward {
            for uri in Self.awkward {
                let expires = Timestamp(unixSeconds: 1_700_000_000)
                let plain = Reply.success(
                    id: id, result: EnrollBeginResult(enrollment: "E1", secret: secret, uri: uri, expiresAt: expires))
                let bare = Reply.success(
                    id: id, fields: ["enrollment": "E1", "expires_at": .string(RFC3339.format(1_700_000_000))])
                #expect(written(bare, ["secret": .string(Secret(secret)), "uri": .string(Secret(uri))]) == plain.line)
            }
        }
    }

    @Test(arguments: [0, 1, 10])
    func recoveryCodesAreByteForByteTheStringLine(count: Int) {
        let codes = (0..<count).map { "7K2QF-9XM4D-0RW3\($0 % 10)" }
        let plain = Reply.success(id: "c", result: EnrollConfirmResult(token: "T", name: "phone", recoveryCodes: codes))
        let bare = Reply.success(id: "c", result: EnrollConfirmResult(token: "T", name: "phone"))
        #expect(written(bare, ["recovery_codes": .strings(codes.map(Secret.init))]) == plain.line)
        let regenerated = Reply.success(id: nil, result: RecoveryRegenerateResult(recoveryCodes: codes))
        #expect(written(.success(id: nil), ["recovery_codes": .strings(codes.map(Secret.init))]) == regenerated.line)
    }

    @Test func withoutSecretsItIsTheLine() {
        let replies: [Reply] = [
            .success(id: "x", fields: ["enrolled": true, "tokens": 2, "nested": ["a": [1, 2.5, nil]]]),
            .failure(id: nil, code: .rateLimited, message: "wait 3 s", retryAfter: 3),
            .failure(id: "y", code: .notEnrolled, message: "none", extra: ["required": false]),
        ]
        for reply in replies { #expect(written(reply, [:]) == reply.line) }
    }

    /// A failure has no result to carry them; an envelope key is never overridden.
    @Test func secretsNeverEnterAFailureOrTheEnvelope() {
        let failure = Reply.failure(id: "f", code: .internal, message: "internal error")
        #expect(written(failure, ["secret": .string(Secret("JBSWY3DPEHPK3PXP"))]) == failure.line)
        let success = Reply.success(id: "s")
        #expect(written(success, ["ok": .string(Secret("no")), "v": .strings([])]) == success.line)
    }
}
