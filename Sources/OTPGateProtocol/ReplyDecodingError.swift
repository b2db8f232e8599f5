/// A reply line that a client cannot use: the daemon (or whatever answered on the
/// socket) did not speak protocol v1. A client must treat this like `unavailable`.
public struct ReplyDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Longer than `ProtocolLimits.maxReplyLineBytes`.
        case oversize
        /// Not UTF-8, not JSON, not an object, or an envelope member missing or mistyped.
        case malformed
        case unsupportedVersion = "unsupported_version"
        /// A success whose fields do not fit the expected result type.
        case resultMismatch = "result_mismatch"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
