public import Logging
public import OTPGateProtocol

/// One method per operation of protocol v1 (docs/PROTOCOL.md). Each throws
/// `OTPGateClientError`; `logger` replaces the client's background logger for the call.
extension OTPGateClient {
    public func verify(
        user: String, code: String, service: String? = nil, rhost: String? = nil, tty: String? = nil, logger: Logger? = nil
    ) async throws -> VerifyResult {
        try await call(
            .verify(VerifyRequest(user: user, code: code, service: service, rhost: rhost, tty: tty)), as: VerifyResult.self,
            logger: logger)
    }

    public func status(user: String, logger: Logger? = nil) async throws -> StatusResult {
        try await call(.status(StatusRequest(user: user)), as: StatusResult.self, logger: logger)
    }

    public func enrollBegin(_ request: EnrollBeginRequest, logger: Logger? = nil) async throws -> EnrollBeginResult {
        try await call(.enrollBegin(request), as: EnrollBeginResult.self, logger: logger)
    }

    public func enrollConfirm(user: String, enrollment: String, code: String, logger: Logger? = nil) async throws -> EnrollConfirmResult {
        try await call(
            .enrollConfirm(EnrollConfirmRequest(user: user, enrollment: enrollment, code: code)), as: EnrollConfirmResult.self,
            logger: logger)
    }

    public func enrollCancel(user: String, enrollment: String, logger: Logger? = nil) async throws {
        try await callEmpty(.enrollCancel(EnrollCancelRequest(user: user, enrollment: enrollment)), logger: logger)
    }

    public func removeToken(user: String, token: String, code: String? = nil, logger: Logger? = nil) async throws -> TokenRemoveResult {
        try await call(.tokenRemove(TokenRemoveRequest(user: user, token: token, code: code)), as: TokenRemoveResult.self, logger: logger)
    }

    public func regenerateRecoveryCodes(user: String, code: String? = nil, logger: Logger? = nil) async throws -> RecoveryRegenerateResult {
        try await call(
            .recoveryRegenerate(RecoveryRegenerateRequest(user: user, code: code)), as: RecoveryRegenerateResult.self, logger: logger)
    }

    public func health(logger: Logger? = nil) async throws -> HealthResult {
        try await call(.health, as: HealthResult.self, logger: logger)
    }

    public func listUsers(logger: Logger? = nil) async throws -> AdminListResult {
        try await call(.adminList, as: AdminListResult.self, logger: logger)
    }

    public func reset(user: String, logger: Logger? = nil) async throws {
        try await callEmpty(.adminReset(AdminResetRequest(user: user)), logger: logger)
    }

    public func unlock(user: String, logger: Logger? = nil) async throws {
        try await callEmpty(.adminUnlock(AdminUnlockRequest(user: user)), logger: logger)
    }

    public func audit(user: String? = nil, since: Timestamp? = nil, limit: Int? = nil, logger: Logger? = nil) async throws -> AdminAuditResult {
        try await call(.adminAudit(AdminAuditRequest(user: user, since: since, limit: limit)), as: AdminAuditResult.self, logger: logger)
    }

    /// Re-encrypts every secret under a new master key (admin socket).
    public func rekey(logger: Logger? = nil) async throws -> AdminRekeyResult {
        try await call(.adminRekey, as: AdminRekeyResult.self, logger: logger)
    }
}
