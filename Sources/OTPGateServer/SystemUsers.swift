internal import Glibc

/// Looks up users and groups in the system's databases (NSS: files, LDAP, sssd...).
public struct SystemUsers: Sendable {
    public init() {}

    /// The login name of `uid`, or nil when it has none.
    public func name(of uid: UInt32) -> String? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil, let name = pwd.pw_name else {
            return nil
        }
        return String(cString: name)
    }

    /// Every group `user` belongs to, primary and supplementary, by name.
    public func groups(of user: String) -> Set<String> {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getpwnam_r(user, &pwd, &buffer, buffer.count, &result) == 0, result != nil else { return [] }
        var count: Int32 = 64
        var gids = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(user, pwd.pw_gid, &gids, &count) < 0 {
            gids = [gid_t](repeating: 0, count: Int(count))
            guard getgrouplist(user, pwd.pw_gid, &gids, &count) >= 0 else { return [] }
        }
        return Set(gids.prefix(Int(count)).compactMap(groupName))
    }

    /// Whether `uid` (with primary group `gid`) is in any of `groups`.
    public func isMember(uid: UInt32, gid: UInt32, of groups: [String]) -> Bool {
        guard !groups.isEmpty else { return false }
        if let primary = groupName(gid), groups.contains(primary) { return true }
        guard let user = name(of: uid) else { return false }
        return !self.groups(of: user).isDisjoint(with: groups)
    }

    func groupName(_ gid: gid_t) -> String? {
        var grp = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getgrgid_r(gid, &grp, &buffer, buffer.count, &result) == 0, result != nil, let name = grp.gr_name else {
            return nil
        }
        return String(cString: name)
    }
}
