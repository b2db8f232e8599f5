/// The typed result fields of one operation's success reply.
///
/// Conforming types encode to exactly the snake_case member names of the protocol;
/// optional properties are left out of the JSON when nil.
public protocol ReplyResult: Codable, Sendable {}
