/// The result of `admin.import`: what was done (or, in a dry run, would be done).
public struct AdminImportResult: ReplyResult, Hashable {
    public enum Outcome: String, Sendable, Hashable, Codable {
        case imported
        /// The user already had tokens and the mode was `skip`.
        case skipped
    }

    public var user: String
    public var outcome: Outcome
    public var dryRun: Bool
    /// The names of the tokens imported (none when skipped).
    public var tokens: [String]
    /// How many tokens the user had before (removed under `replace`, kept otherwise).
    public var existing: Int
    public var replaced: Int
    public var scratchCodes: Int

    public init(
        user: String, outcome: Outcome, dryRun: Bool, tokens: [String], existing: Int, replaced: Int, scratchCodes: Int
    ) {
        self.user = user
        self.outcome = outcome
        self.dryRun = dryRun
        self.tokens = tokens
        self.existing = existing
        self.replaced = replaced
        self.scratchCodes = scratchCodes
    }

    enum CodingKeys: String, CodingKey {
        case user, outcome, tokens, existing, replaced
        case dryRun = "dry_run"
        case scratchCodes = "scratch_codes"
    }
}
