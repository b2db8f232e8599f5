/// The result of `token.remove`.
public struct TokenRemoveResult: ReplyResult, Hashable {
    /// Whether the user still has at least one token.
    public var enrolled: Bool

    public init(enrolled: Bool) {
        self.enrolled = enrolled
    }
}
