import OTPCore
public import OTPGateProtocol

extension Request {
    /// Zeroes the codes and secrets this request carried, in the String storage that
    /// the parsed JSON and the typed request share, once the request is answered.
    /// Only for a request parsed from a line (see `String.wipeSharedStorage`).
    /// The request line they were parsed from is zeroed already (ConnectionHandler).
    /// Strings of up to 15 bytes (one-time and scratch codes) are not in the heap
    /// and are left (see `String.wipeSharedStorage`).
    public func wipeSecrets() {
        switch payload {
        case .verify(let r): r.code.wipeSharedStorage()
        case .verifyCandidates(let r): r.codes.forEach { $0.wipeSharedStorage() }
        case .enrollBegin(let r): r.code?.wipeSharedStorage()
        case .enrollConfirm(let r): r.code.wipeSharedStorage()
        case .tokenRemove(let r): r.code?.wipeSharedStorage()
        case .recoveryRegenerate(let r): r.code?.wipeSharedStorage()
        case .tokenResync(let r): r.codes.forEach { $0.wipeSharedStorage() }
        case .adminImport(let r):
            r.tokens.forEach { $0.secret.wipeSharedStorage() }
            r.scratchCodes.forEach { $0.wipeSharedStorage() }
        case .verifyPrecheck, .status, .enrollCancel, .health, .adminList, .adminReset, .adminUnlock, .adminAudit,
            .adminRekey:
            break
        }
    }
}
