/// Why a request line cannot be served, ready to be sent back as a failure reply.
///
/// `message` is lower case, names the field that is wrong and never contains the value
/// of a field (a `code` above all), so it is safe to log and to send.
public struct RequestError: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: WireErrorCode
    public let message: String
    /// The request's `id`, when it could be read, so the reply can echo it.
    public let id: String?
    /// The operation, when it was known before the error was found (for logs).
    public let operation: WireOperation?
    /// True when the stream can no longer be trusted to be framed as the protocol
    /// says (oversize line, invalid UTF-8, not a JSON object): reply, then close.
    public let closesConnection: Bool

    public init(
        _ code: WireErrorCode, _ message: String, id: String? = nil, operation: WireOperation? = nil,
        closesConnection: Bool = false
    ) {
        self.code = code
        self.message = message
        self.id = id
        self.operation = operation
        self.closesConnection = closesConnection
    }

    public var description: String { message }

    /// A line longer than the protocol allows; the stream is no longer framed.
    public static let lineTooLong = RequestError(
        .badRequest, "request line exceeds \(ProtocolLimits.maxRequestLineBytes) bytes", closesConnection: true)

    /// The failure reply to send for this error.
    public var reply: Reply {
        Reply.failure(id: id, code: code, message: message)
    }
}
