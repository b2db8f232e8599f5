/// The error half of a reply, as the daemon sends it and as a client receives it.
///
/// Thrown by `Reply.result(_:)`, so a client can `catch let failure as ReplyFailure`.
public struct ReplyFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The `error` string as sent. A newer daemon may send a code this module does not
    /// know; `code` is nil then, and `rawCode` still says what it was.
    public let rawCode: String
    public let message: String
    /// Seconds to wait before trying again (`rate_limited`).
    public let retryAfter: Int?
    /// Further members beside the envelope, such as `required`.
    public let fields: [String: JSONValue]

    public init(code: WireErrorCode, message: String, retryAfter: Int? = nil, fields: [String: JSONValue] = [:]) {
        self.init(rawCode: code.rawValue, message: message, retryAfter: retryAfter, fields: fields)
    }

    public init(rawCode: String, message: String, retryAfter: Int? = nil, fields: [String: JSONValue] = [:]) {
        self.rawCode = rawCode
        self.message = message
        self.retryAfter = retryAfter
        self.fields = fields.filter { !Reply.failureEnvelopeKeys.contains($0.key) }
    }

    public var code: WireErrorCode? { WireErrorCode(rawValue: rawCode) }

    /// For `not_enrolled`: whether this user must have a second factor.
    public var required: Bool? {
        if case .bool(let required)? = fields["required"] { required } else { nil }
    }

    public var description: String {
        "\(rawCode): \(message)" + (retryAfter.map { " (retry after \($0) s)" } ?? "")
    }
}
