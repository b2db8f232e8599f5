/// Why a text is not JSON that `JSONValue.parse` accepts: what was wrong and at which
/// byte. Never quotes the input (a request line may carry a code).
public struct JSONSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String
    /// Offset of the byte where reading stopped.
    public let offset: Int

    public init(reason: String, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}
