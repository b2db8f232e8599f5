public import OTPGateProtocol

/// What one importer found for one user: the tokens to send in one `admin.import`,
/// and the issues to report. Holds secrets: never logged.
public struct ImportedUser: Sendable, CustomStringConvertible {
    public var user: String
    /// The tool and file, for the audit log (`google-authenticator /home/a/.google_authenticator`).
    public var source: String
    public var tokens: [AdminImportRequest.Token]
    public var scratchCodes: [String]
    public var issues: [ImportIssue]

    public init(user: String, source: String, tokens: [AdminImportRequest.Token] = [], scratchCodes: [String] = [], issues: [ImportIssue] = []) {
        self.user = user
        self.source = source
        self.tokens = tokens
        self.scratchCodes = scratchCodes
        self.issues = issues
    }

    /// True when an error stops this user from being imported at all.
    public var refused: Bool { tokens.isEmpty }

    /// The request that imports this user.
    public func request(mode: AdminImportRequest.Mode, dryRun: Bool) -> AdminImportRequest {
        AdminImportRequest(user: user, source: source, mode: mode, dryRun: dryRun, tokens: tokens, scratchCodes: scratchCodes)
    }

    public var description: String { "import of \(user) from \(source): \(tokens.count) tokens (secrets withheld)" }
}
