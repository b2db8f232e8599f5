public import OTPCore

/// A token brought over from another tool (google-authenticator, pam_oath, an
/// authenticator export, a PSKC file), with the state that tool kept for it.
/// Holds a secret: never logged.
public struct ImportedToken: Sendable, CustomStringConvertible {
    public var name: String
    public var parameters: OTPParameters
    public var secret: [UInt8]
    /// HOTP: the counter of the next code to accept.
    public var initialCounter: UInt64
    /// The last step or counter the other tool accepted (or the last one before
    /// `initialCounter`): codes at or below it are refused as replays.
    public var watermark: UInt64?
    /// TOTP: the step offset the other tool had learned (google-authenticator's TIME_SKEW).
    public var skew: Int
    /// TOTP: steps either side; nil for the daemon's window.
    public var window: Int?

    public init(
        name: String, parameters: OTPParameters, secret: [UInt8], initialCounter: UInt64 = 0,
        watermark: UInt64? = nil, skew: Int = 0, window: Int? = nil
    ) {
        self.name = name
        self.parameters = parameters
        self.secret = secret
        self.initialCounter = initialCounter
        self.watermark = watermark
        self.skew = skew
        self.window = window
    }

    public var description: String { "imported token \(name) (secret withheld)" }
}

/// What to do with a user who already has tokens.
public enum ImportMode: String, Sendable, Hashable, CaseIterable {
    /// Leave the user as they are.
    case skip
    /// Remove their tokens, recovery and scratch codes first.
    case replace
    /// Keep what they have and add the imported tokens beside it.
    case add
}

/// What an import did (or, in a dry run, would do) for one user.
public enum ImportOutcome: Sendable, Hashable {
    case imported(tokens: [String], replaced: Int, scratchCodes: Int)
    /// The user had `existing` tokens and the mode was `skip`.
    case skipped(existing: Int)
}
