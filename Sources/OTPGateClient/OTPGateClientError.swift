public import OTPGateProtocol

/// Why a call to otpgated did not succeed.
///
/// `code` says what happened: the daemon's own error (`.daemon(.invalidCode)`,
/// `.daemon(.rateLimited)`, ...) or that no answer arrived (`.unreachable`,
/// `.timeout`, ...). It is a struct, not an enum, so that codes can be added (the
/// daemon's list grows) without breaking a caller's `switch`; compare with `==` or
/// match in a `switch` with a `default`.
public struct OTPGateClientError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Sendable, Hashable {
            case unreachable, permissionDenied, untrustedDaemon, timeout, cancelled, protocolError
            /// The daemon's error code as it came on the wire (known to this client or not).
            case daemon(String)
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The socket does not exist or refused the connection.
        public static let unreachable = Code(.unreachable)
        /// The socket exists but this process may not connect to it (file mode).
        public static let permissionDenied = Code(.permissionDenied)
        /// The socket file or the process on the other end belongs to a uid that
        /// `Configuration.trustedUIDs` does not trust; nothing was sent.
        public static let untrustedDaemon = Code(.untrustedDaemon)
        /// No complete reply within the call's timeout.
        public static let timeout = Code(.timeout)
        /// The calling task was cancelled before the reply arrived.
        public static let cancelled = Code(.cancelled)
        /// The reply was not a protocol v1 reply.
        public static let protocolError = Code(.protocolError)

        /// The daemon answered with this failure code.
        public static func daemon(_ code: WireErrorCode) -> Code { Code(.daemon(code.rawValue)) }
        /// The daemon answered with a failure code given as its wire string (also one
        /// this client does not know yet).
        public static func daemon(rawCode: String) -> Code { Code(.daemon(rawCode)) }

        /// The daemon's failure code, when the daemon answered with one this client knows.
        public var daemonCode: WireErrorCode? { rawDaemonCode.flatMap(WireErrorCode.init(rawValue:)) }
        /// The daemon's failure code as sent, when the daemon answered with a failure.
        public var rawDaemonCode: String? {
            if case .daemon(let raw) = base { return raw }
            return nil
        }

        public var description: String {
            switch base {
            case .unreachable: "unreachable"
            case .permissionDenied: "permission_denied"
            case .untrustedDaemon: "untrusted_daemon"
            case .timeout: "timeout"
            case .cancelled: "cancelled"
            case .protocolError: "protocol_error"
            case .daemon(let raw): raw
            }
        }
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
        self.init(.daemon(rawCode: failure.rawCode), failure.message, retryAfter: failure.retryAfter, required: failure.required)
    }

    /// True when the answer never came (no daemon, no trust, no time, no reply in
    /// protocol v1) or the daemon said it cannot serve: a "no", of the kind that
    /// says nothing about the code.
    public var isUnavailable: Bool {
        switch code {
        case .unreachable, .untrustedDaemon, .timeout, .protocolError, .daemon(.unavailable), .daemon(.internal): true
        default: false
        }
    }

    public var description: String { message }
}
