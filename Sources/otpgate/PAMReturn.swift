/// Linux-PAM's return values as pam.d(5) controls name them (`auth_err=die`), in
/// libpam's order (`_PAM_RETURN_VALUES`): a `default=` covers every one of them.
enum PAMReturn: String, CaseIterable, Sendable {
    case success, openErr = "open_err", symbolErr = "symbol_err", serviceErr = "service_err",
        systemErr = "system_err", bufErr = "buf_err", permDenied = "perm_denied", authErr = "auth_err",
        credInsufficient = "cred_insufficient", authinfoUnavail = "authinfo_unavail", userUnknown = "user_unknown",
        maxtries, newAuthtokReqd = "new_authtok_reqd", acctExpired = "acct_expired", sessionErr = "session_err",
        credUnavail = "cred_unavail", credExpired = "cred_expired", credErr = "cred_err",
        noModuleData = "no_module_data", convErr = "conv_err", authtokErr = "authtok_err",
        authtokRecoverErr = "authtok_recover_err", authtokLockBusy = "authtok_lock_busy",
        authtokDisableAging = "authtok_disable_aging", tryAgain = "try_again", ignore, abort,
        authtokExpired = "authtok_expired", moduleUnknown = "module_unknown", badItem = "bad_item",
        convAgain = "conv_again", incomplete

    /// What pam_otpgate can return from pam_sm_authenticate (DESIGN.md's table), plus
    /// what libpam substitutes when the module cannot be loaded. PAM_IGNORE only with
    /// nullok or a grace period.
    static func otpgate(mayIgnore: Bool) -> [PAMReturn] {
        [.success, .authErr, .maxtries, .authinfoUnavail, .userUnknown, .convErr, .bufErr, .systemErr, .moduleUnknown]
            + (mayIgnore ? [.ignore] : [])
    }

    /// What any other authentication module might return, for exploring a stack.
    static let anyModule: [PAMReturn] = [
        .success, .ignore, .authErr, .userUnknown, .authinfoUnavail, .credInsufficient, .maxtries,
        .newAuthtokReqd, .permDenied, .convErr, .systemErr, .bufErr, .serviceErr, .abort, .tryAgain,
    ]

    /// What a code refused or not checked looks like to the stack: anything but
    /// success and ignore.
    var isFailure: Bool { self != .success && self != .ignore }
}
