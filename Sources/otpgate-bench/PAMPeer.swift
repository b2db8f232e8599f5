/// One PAM module in the login comparison.
enum PAMPeer: String, CaseIterable, Sendable {
    /// pam_permit: no second factor at all, so the figure is pamtester's own cost
    /// (process start, PAM set-up), which every other row includes too.
    case baseline = "pam_permit"
    case otpgate = "pam_otpgate"
    /// pam_otpgate against the floor server (bench/floor) instead of otpgated: the
    /// same module, socket checks and durable work, with the least server around it.
    case floor = "pam_otpgate + floor"
    case google = "pam_google_authenticator"
    case oath = "pam_oath"

    var service: String { "otpgate-bench-" + String(describing: self) }
}
