extension Request {
    /// What is asked, one case per operation, with that operation's typed fields.
    public enum Payload: Sendable, Hashable, CustomStringConvertible {
        case verify(VerifyRequest)
        case verifyPrecheck(VerifyPrecheckRequest)
        case verifyCandidates(VerifyCandidatesRequest)
        case status(StatusRequest)
        case enrollBegin(EnrollBeginRequest)
        case enrollConfirm(EnrollConfirmRequest)
        case enrollCancel(EnrollCancelRequest)
        case tokenRemove(TokenRemoveRequest)
        case recoveryRegenerate(RecoveryRegenerateRequest)
        case health
        case adminList
        case adminReset(AdminResetRequest)
        case adminUnlock(AdminUnlockRequest)
        case adminAudit(AdminAuditRequest)
        case adminRekey
        case adminImport(AdminImportRequest)
        case tokenResync(TokenResyncRequest)

        public var operation: WireOperation {
            switch self {
            case .verify: .verify
            case .verifyPrecheck: .verifyPrecheck
            case .verifyCandidates: .verifyCandidates
            case .status: .status
            case .enrollBegin: .enrollBegin
            case .enrollConfirm: .enrollConfirm
            case .enrollCancel: .enrollCancel
            case .tokenRemove: .tokenRemove
            case .recoveryRegenerate: .recoveryRegenerate
            case .health: .health
            case .adminList: .adminList
            case .adminReset: .adminReset
            case .adminUnlock: .adminUnlock
            case .adminAudit: .adminAudit
            case .adminRekey: .adminRekey
            case .adminImport: .adminImport
            case .tokenResync: .tokenResync
            }
        }

        /// The user the request is about, if any: the subject of the "own user only"
        /// rule on the public socket and of `user.name` in logs.
        public var user: String? {
            switch self {
            case .verify(let request): request.user
            case .verifyPrecheck(let request): request.user
            case .verifyCandidates(let request): request.user
            case .status(let request): request.user
            case .enrollBegin(let request): request.user
            case .enrollConfirm(let request): request.user
            case .enrollCancel(let request): request.user
            case .tokenRemove(let request): request.user
            case .recoveryRegenerate(let request): request.user
            case .adminReset(let request): request.user
            case .adminUnlock(let request): request.user
            case .adminAudit(let request): request.user
            case .adminImport(let request): request.user
            case .tokenResync(let request): request.user
            case .health, .adminList, .adminRekey: nil
            }
        }

        var fields: [String: JSONValue] {
            switch self {
            case .verify(let request): request.fields
            case .verifyPrecheck(let request): request.fields
            case .verifyCandidates(let request): request.fields
            case .status(let request): request.fields
            case .enrollBegin(let request): request.fields
            case .enrollConfirm(let request): request.fields
            case .enrollCancel(let request): request.fields
            case .tokenRemove(let request): request.fields
            case .recoveryRegenerate(let request): request.fields
            case .adminReset(let request): request.fields
            case .adminUnlock(let request): request.fields
            case .adminAudit(let request): request.fields
            case .adminImport(let request): request.fields
            case .tokenResync(let request): request.fields
            case .health, .adminList, .adminRekey: [:]
            }
        }

        init(_ operation: WireOperation, reading fields: FieldReader) throws(RequestError) {
            switch operation {
            case .verify: self = .verify(try VerifyRequest(reading: fields))
            case .verifyPrecheck: self = .verifyPrecheck(try VerifyPrecheckRequest(reading: fields))
            case .verifyCandidates: self = .verifyCandidates(try VerifyCandidatesRequest(reading: fields))
            case .status: self = .status(try StatusRequest(reading: fields))
            case .enrollBegin: self = .enrollBegin(try EnrollBeginRequest(reading: fields))
            case .enrollConfirm: self = .enrollConfirm(try EnrollConfirmRequest(reading: fields))
            case .enrollCancel: self = .enrollCancel(try EnrollCancelRequest(reading: fields))
            case .tokenRemove: self = .tokenRemove(try TokenRemoveRequest(reading: fields))
            case .recoveryRegenerate: self = .recoveryRegenerate(try RecoveryRegenerateRequest(reading: fields))
            case .health: self = .health
            case .adminList: self = .adminList
            case .adminReset: self = .adminReset(try AdminResetRequest(reading: fields))
            case .adminUnlock: self = .adminUnlock(try AdminUnlockRequest(reading: fields))
            case .adminAudit: self = .adminAudit(try AdminAuditRequest(reading: fields))
            case .adminRekey: self = .adminRekey
            case .adminImport: self = .adminImport(try AdminImportRequest(reading: fields))
            case .tokenResync: self = .tokenResync(try TokenResyncRequest(reading: fields))
            }
        }

        // Spelled out per case so that codes never reach a log through the default
        // reflection-based description.
        public var description: String {
            switch self {
            case .verify(let request): request.description
            case .verifyCandidates(let request): request.description
            case .enrollBegin(let request): request.description
            case .enrollConfirm(let request): request.description
            case .tokenRemove(let request): request.description
            case .recoveryRegenerate(let request): request.description
            case .adminImport(let request): request.description
            case .tokenResync(let request): request.description
            case .status, .verifyPrecheck, .enrollCancel, .health, .adminList, .adminReset, .adminUnlock, .adminAudit, .adminRekey:
                operation.rawValue + (user.map { "(user: \($0))" } ?? "")
            }
        }
    }
}
