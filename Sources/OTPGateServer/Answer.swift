public import OTPCore
public import OTPGateProtocol

/// A reply on its way out. The secrets a few replies carry (enroll.begin's secret and
/// otpauth URI, recovery codes) are not in `reply`, where they would be Strings that
/// linger in freed memory: they are held beside it in `SecretBytes`, and `line()`
/// writes them straight into the line, which is wiped memory too.
public struct Answer: Sendable {
    public let reply: Reply
    let secrets: [String: SecretMember]

    public init(_ reply: Reply) {
        self.reply = reply
        self.secrets = [:]
    }

    /// `reply` with the members named in `secrets` taken out of its result (the
    /// result types are the client's, with String members: the handler fills those
    /// with "") and carried as secrets instead.
    init(_ reply: Reply, secrets: [String: SecretMember]) {
        var reply = reply
        if case .success(var fields) = reply.outcome {
            for key in secrets.keys { fields[key] = nil }
            reply.outcome = .success(fields)
        }
        self.reply = reply
        self.secrets = secrets
    }

    /// The line to send, in memory that is wiped when it is released. Byte for byte
    /// what `Reply.line` gives for the reply with the secrets in it.
    public func line() -> SecretBytes {
        var out = SecretBytes(capacity: 512)
        reply.writeLine(secrets: secrets, into: &out)
        return out
    }
}
