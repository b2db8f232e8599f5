public import Logging
public import OTPGateProtocol

extension OTPGateClient {
    /// Stores one user's tokens taken from another tool (admin socket).
    public func importTokens(_ request: AdminImportRequest, logger: Logger? = nil) async throws -> AdminImportResult {
        try await call(.adminImport(request), as: AdminImportResult.self, logger: logger)
    }

    /// Moves a token to where its consecutive `codes` are now (two for TOTP, three for HOTP).
    public func resync(user: String, token: String? = nil, codes: [String], logger: Logger? = nil) async throws -> TokenResyncResult {
        try await call(.tokenResync(TokenResyncRequest(user: user, token: token, codes: codes)), as: TokenResyncResult.self, logger: logger)
    }
}
