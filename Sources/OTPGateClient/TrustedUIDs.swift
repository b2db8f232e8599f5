internal import Glibc

/// Whose daemon a client believes: the socket file and the process that accepted the
/// connection (SO_PEERCRED) must both belong to one of these uids, or the call fails
/// with `.untrustedDaemon` before anything is sent. Otherwise any local user who gets
/// a socket to the configured path (a daemon that is down, a path in /tmp) could
/// answer "ok" to every code.
///
/// The default, `.standard`, trusts what pam_otpgate trusts: uid 0 and the `otpgate`
/// system user. A daemon run by another user (tests, `otpgated --state-dir` as
/// yourself) needs that uid added explicitly: `.standard(and: getuid())`.
public struct TrustedUIDs: Sendable, Hashable {
    /// The system user the daemon runs as in production.
    public static let daemonUserName = "otpgate"

    let extra: Set<UInt32>

    /// uid 0 and the `otpgate` user (looked up when a uid other than 0 is checked).
    public static let standard = TrustedUIDs(extra: [])

    /// `.standard` and these uids as well.
    public static func standard(and uids: UInt32...) -> TrustedUIDs { TrustedUIDs(extra: Set(uids)) }

    /// `.standard` and these uids as well.
    public static func standard(and uids: some Sequence<UInt32>) -> TrustedUIDs { TrustedUIDs(extra: Set(uids)) }

    public func contains(_ uid: UInt32) -> Bool {
        uid == 0 || extra.contains(uid) || Self.daemonUserUID() == uid
    }

    /// Looked up per check, as pam_otpgate does, so a user created after the client
    /// was made is seen.
    static func daemonUserUID() -> UInt32? {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwnam_r(daemonUserName, &entry, &buffer, buffer.count, &found) == 0, found != nil else { return nil }
        return entry.pw_uid
    }
}
