public import OTPCore
public import OTPGateProtocol

/// A reply on its way out. The secrets a few replies carry (enroll.begin's secret and
/// otpauth URI, recovery codes) are not in `reply`, where they would be Strings that
/// linger in freed memory: they are held beside it in `SecretBytes`, and `line()`
/// writes them straight into the line, which is wiped memory too.
///
/// On a relay the answer is the tier's reply line itself (`forwarded(line:)`), passed
/// on byte for byte and never parsed into Strings: it may carry a secret or recovery
/// codes just the same.
public struct Answer: Sendable {
    private enum Content: Sendable {
        case reply(Reply, secrets: [String: SecretMember])
        case forwarded(SecretBytes)
    }

    private let content: Content

    /// The reply this answer was made from; nil for a forwarded line.
    public var reply: Reply? {
        if case .reply(let reply, _) = content { return reply }
        return nil
    }

    public init(_ reply: Reply) {
        self.content = .reply(reply, secrets: [:])
    }

    /// A reply line received whole from elsewhere (the tier), ending in "\n", sent to
    /// the caller unchanged. The answer keeps the caller's `line` (wiped memory).
    public static func forwarded(line: SecretBytes) -> Answer { Answer(content: .forwarded(line)) }

    private init(content: Content) { self.content = content }

    /// `reply` with the members named in `secrets` taken out of its result (the
    /// result types are the client's, with String members: the handler fills those
    /// with "") and carried as secrets instead.
    init(_ reply: Reply, secrets: [String: SecretMember]) {
        var reply = reply
        if case .success(var fields) = reply.outcome {
            for key in secrets.keys { fields[key] = nil }
            reply.outcome = .success(fields)
        }
        self.content = .reply(reply, secrets: secrets)
    }

    /// The line to send, in memory that is wiped when it is released. Byte for byte
    /// what `Reply.line` gives for the reply with the secrets in it.
    /// A forwarded line is copied, so that each call's result can be wiped on its own.
    public func line() -> SecretBytes {
        switch content {
        case .reply(let reply, let secrets):
            var out = SecretBytes(capacity: 512)
            reply.writeLine(secrets: secrets, into: &out)
            return out
        case .forwarded(let line):
            let out = SecretBytes(capacity: line.count)
            out.append(line)
            return out
        }
    }
}
