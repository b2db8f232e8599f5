public import OTPGateProtocol

/// Why a call to otpgated did not succeed.
///
/// `code` is stable: `.daemon(...)` carries the daemon's own error code (for example
/// `.invalidCode` or `.rateLimited`); the others say the answer never arrived.
public struct OTPGateClientError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// The socket does not exist or refused the connection.
        case unreachable
        /// The socket exists but this process may not connect (file mode).
        case permissionDenied
        /// No complete reply within the timeout.
        case timeout
        /// The reply was not a protocol v1 reply.
        case protocolError
        /// The daemon answered with a failure.
        case daemon(WireErrorCode)
        /// The daemon answered with a failure code this client does not know.
        case unknownDaemonError(String)
    }

    public let code: Code
    public let message: String
    /// Seconds to wait, with `rate_limited`.
    public let retryAfter: Int?
    /// With `not_enrolled`: whether the user must have a second factor.
    public let required: Bool?

    public init(_ code: Code, _ message: String, retryAfter: Int? = nil, required: Bool? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
        self.required = required
    }

    init(_ failure: ReplyFailure) {
        let code: Code = failure.code.map { .daemon($0) } ?? .unknownDaemonError(failure.rawCode)
        self.init(code, failure.message, retryAfter: failure.retryAfter, required: failure.required)
    }

    public var description: String { message }
}
