public import OTPGateProtocol

extension OTPGateClient {
    /// Stores one user's tokens taken from another tool (admin socket).
    public func importTokens(_ request: AdminImportRequest) async throws(OTPGateClientError) -> AdminImportResult {
        try await call(.adminImport(request), as: AdminImportResult.self)
    }

    /// Moves a token to where its consecutive `codes` are now (two for TOTP, three for HOTP).
    public func resync(user: String, token: String? = nil, codes: [String]) async throws(OTPGateClientError) -> TokenResyncResult {
        try await call(.tokenResync(TokenResyncRequest(user: user, token: token, codes: codes)), as: TokenResyncResult.self)
    }
}
