/// Why TLS material could not be loaded or a peer certificate not be named: one line
/// that names the file or the certificate and, where there is one, the fix.
public struct TLSError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
