/// The one error type of `OTPCore`.
///
/// `code` is stable and meant for programs; `message` is lower case, specific and
/// meant for people. Messages never contain a secret or a code: at most they name
/// the position or the field that was wrong.
public struct OTPCoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidCode = "invalid_code"
        case invalidBase32 = "invalid_base32"
        case invalidURI = "invalid_uri"
        case invalidParameters = "invalid_parameters"
        case cryptoFailure = "crypto_failure"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
