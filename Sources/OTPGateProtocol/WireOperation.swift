/// The operations of protocol v1, by their wire name (`"op"`).
///
/// Not called `Operation`: that would clash with Foundation's `Operation` class in every
/// file that imports both modules.
public enum WireOperation: String, Sendable, Hashable, CaseIterable, Codable {
    case verify
    case verifyPrecheck = "verify.precheck"
    case verifyCandidates = "verify.candidates"
    case status
    case enrollBegin = "enroll.begin"
    case enrollConfirm = "enroll.confirm"
    case enrollCancel = "enroll.cancel"
    case tokenRemove = "token.remove"
    case recoveryRegenerate = "recovery.regenerate"
    case health
    case adminList = "admin.list"
    case adminReset = "admin.reset"
    case adminUnlock = "admin.unlock"
    case adminAudit = "admin.audit"
    case adminRekey = "admin.rekey"
    case adminImport = "admin.import"
    case tokenResync = "token.resync"

    /// Served only on the admin socket.
    public var isAdminOnly: Bool {
        switch self {
        case .adminList, .adminReset, .adminUnlock, .adminAudit, .adminRekey, .adminImport: true
        default: false
        }
    }
}
