internal import Glibc

/// Started as root on a host where the daemon's files belong to its own user (a
/// package or `make install` set them up for `otpgate`), the right fix is to start it
/// as that user, not to hand the files to root: running as root would make every bug
/// in the daemon a root bug. Root with root-owned files (a test, a trial with
/// --state-dir) is left alone: the PAM module trusts a daemon running as root too.
public enum RootAdvice {
    public static func check(config: ServerConfig) -> String? {
        guard geteuid() == 0 else { return nil }
        let keyDirectory = config.keyFile.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        for path in [config.keyFile, keyDirectory, config.stateDirectory] where !path.isEmpty {
            var st = stat()
            guard lstat(path, &st) == 0, st.st_uid != 0 else { continue }
            let name = getpwuid(st.st_uid).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "uid \(st.st_uid)"
            return """
                otpgated was started as root, but \(path) belongs to \(name), the user it runs as. \
                Start it as that user: 'systemctl start otpgated' (systemd), '/etc/init.d/otpgated start' \
                (without systemd), or by hand 'sudo -u \(name) otpgated --log-file /var/log/otpgate/otpgated.log'. \
                Do not chown its files to root: the daemon needs no root, and running it as root would make any bug in it a root bug
                """
        }
        return nil
    }
}
