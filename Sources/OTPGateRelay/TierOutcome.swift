public import OTPCore

/// How one exchange with a tier node ended, as the relay must tell them apart
/// (docs/RELAY.md, "The no-retry rule").
public enum TierOutcome: Sendable {
    /// The node's reply line, "\n" included, in wiped memory.
    case reply(SecretBytes)
    /// No byte of the request can have reached the node (connection refused, the
    /// handshake failed, a kept connection was found closed before writing): the
    /// next endpoint may be asked.
    case notSent(String)
    /// The request was written, or may have been, and no whole reply came back in
    /// time: the node may have acted on it (counted a failure, spent a code). Never
    /// asked again anywhere; the caller hears `unavailable`.
    case unknown(String)
}
