import Foundation
import Glibc
import OTPCore

/// What the PAM comparison sets up and takes down: a temporary system user with a
/// home, five /etc/pam.d services, a users.oath file, an otpgated and a floor server
/// with one enrolled user per login each, and (as on a real install) the `otpgate`
/// system user, created only if it is missing and then removed again.
final class PeersFixture: @unchecked Sendable {
    let work: String
    let user: String
    let home: String
    let oathFile: String
    let population: Population
    let floorPopulation: Population
    private var daemon: DaemonProcess?
    private var floorServer: DaemonProcess?
    /// Whether this run created the `otpgate` user (and so removes it).
    private(set) var createdDaemonUser = false

    static let daemonUser = "otpgate"
    private var removed = false

    /// With `daemonAsUser`, otpgated and the floor run as the `otpgate` user (which
    /// then owns their state directories), as on a real install; else as root.
    init(base: String, module: String, otpgated: String, floor: String, logins: Int, daemonAsUser: Bool) throws {
        var template = Array((base + "/otpgate-peers-XXXXXX").utf8CString)
        guard let p = mkdtemp(&template) else { throw BenchError("mkdtemp in \(base) failed") }
        work = String(cString: p)
        chmod(work, 0o755)
        user = "otpbench\(getpid())"
        home = work + "/home"
        oathFile = work + "/oath/users.oath"
        population = try Population.create(directory: work + "/otpgated", users: logins, kind: .totp, period: 30) { _ in }
        floorPopulation = try Population.create(directory: work + "/floor", users: logins, kind: .totp, period: 30) { _ in }
        do {
            if getpwnam(Self.daemonUser) == nil {
                try ChildProcess.must([
                    "useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                    Self.daemonUser,
                ])
                createdDaemonUser = true
            }
            try ChildProcess.must(["useradd", "--no-create-home", "--home-dir", home, "--shell", "/usr/sbin/nologin", user])
            createdUser = true
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false)
            try ChildProcess.must(["chown", user, home])
            chmod(home, 0o700)
            try FileManager.default.createDirectory(atPath: work + "/oath", withIntermediateDirectories: false)
            chmod(work + "/oath", 0o700)

            let socket = population.directory + "/otpgated.sock"
            let services: [(PAMPeer, String)] = [
                (.baseline, "auth required pam_permit.so"),
                (.otpgate, "auth required \(module) socket=\(socket)"),
                (.floor, "auth required \(module) socket=\(floorPopulation.directory)/otpgated.sock"),
                (.google, "auth required pam_google_authenticator.so"),
                (.oath, "auth required pam_oath.so usersfile=\(oathFile) window=1 digits=6"),
            ]
            for (peer, line) in services {
                let path = "/etc/pam.d/" + peer.service
                guard !FileManager.default.fileExists(atPath: path) else {
                    throw BenchError("\(path) exists (left by an interrupted run?); remove it first")
                }
                try ("# temporary, written by otpgate-bench peers; removed when it ends\n" + line + "\n")
                    .write(toFile: path, atomically: true, encoding: .utf8)
                createdServices.append(path)
            }

            var prefix: [String] = []
            if daemonAsUser {
                for dir in [population.directory, floorPopulation.directory] {
                    try ChildProcess.must(["chown", "-R", Self.daemonUser + ":", dir])
                }
                prefix = ["/usr/bin/setpriv", "--reuid", Self.daemonUser, "--regid", Self.daemonUser, "--clear-groups", "--"]
            }
            try "# otpgate-bench peers: otpgated defaults\n".write(
                toFile: population.directory + "/bench-otpgated.toml", atomically: true, encoding: .utf8)
            let daemon = try DaemonProcess(
                executable: otpgated, stateDirectory: population.directory, config: population.directory + "/bench-otpgated.toml",
                logPath: population.directory + "/otpgated.log", prefix: prefix)
            self.daemon = daemon
            _ = try daemon.waitUntilReady()
            let floorServer = try DaemonProcess(
                executable: floor, stateDirectory: floorPopulation.directory, config: "/dev/null",
                logPath: floorPopulation.directory + "/otpgated.log", prefix: prefix)
            self.floorServer = floorServer
            _ = try floorServer.waitUntilReady()
        } catch {
            remove()
            throw error
        }
    }

    private var createdUser = false
    private var createdServices: [String] = []

    /// The user to log in and the code to type, with fresh state written for `peer`.
    func prepare(_ peer: PAMPeer, login: Int) throws -> (user: String, code: String) {
        let now = Int64(Date().timeIntervalSince1970)
        switch peer {
        case .baseline:
            return (user, "")
        case .otpgate, .floor:
            let step = UInt64(now / 30)
            let users = peer == .otpgate ? population : floorPopulation
            return (Population.userName(login), String(decoding: users.code(of: login, counter: step), as: UTF8.self))
        case .google:
            let secret = try OTPSecret.generate()
            let file = home + "/.google_authenticator"
            unlink(file)
            let text = Base32.encode(secret) + "\n\" RATE_LIMIT 3 30\n\" WINDOW_SIZE 3\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n"
            try write(text, to: file, mode: 0o400)
            try ChildProcess.must(["chown", user, file])
            return (user, try TOTP.code(secret: secret, at: now))
        case .oath:
            let secret = try OTPSecret.generate()
            let hex = secret.map { String(format: "%02x", $0) }.joined()
            try write("HOTP/T30/6 \(user) - \(hex)\n", to: oathFile, mode: 0o600)
            return (user, try TOTP.code(secret: secret, at: now))
        }
    }

    private func write(_ text: String, to path: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw BenchError("cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else { throw BenchError("short write to \(path)") }
    }

    /// Stops the daemon, removes the services, the user and the files. Idempotent.
    func remove() {
        guard !removed else { return }
        removed = true
        daemon?.stop()
        floorServer?.stop()
        for path in createdServices { unlink(path) }
        if createdUser { _ = try? ChildProcess.run(["userdel", user]) }
        if createdDaemonUser { _ = try? ChildProcess.run(["userdel", Self.daemonUser]) }
        try? FileManager.default.removeItem(atPath: work)
    }

    // MARK: - Ctrl-C

    nonisolated(unsafe) private static var current: PeersFixture?

    /// On SIGINT or SIGTERM: take everything down, then exit.
    static func removeOnSignal(_ fixture: PeersFixture) {
        current = fixture
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { _ in
                PeersFixture.current?.remove()
                _exit(130)
            }
        }
    }
}
