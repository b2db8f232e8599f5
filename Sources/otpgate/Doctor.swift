import ArgumentParser
import Foundation
import Glibc
import OTPGateClient
import OTPGateProtocol
import OTPGateConfig

extension Admin {
    /// Checks the host: every line says ok, warn or FAIL, and for a problem the file,
    /// the line and the fix.
    struct Doctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the daemon, key and store modes, the clock, and that PAM and sshd make the code mandatory.",
            discussion: """
                For each PAM service (sshd and sudo unless --service names others) it follows \
                @include, include and substack, and checks that every pam_otpgate line makes the \
                code mandatory on every way through the stack, comes after the password module, \
                has valid options and the daemon's socket. For sshd it reads 'sshd -T' for UsePAM, \
                KbdInteractiveAuthentication and AuthenticationMethods, and flags a way to log in \
                with a code alone. Exit status 4 when a check FAILs; warnings alone exit 0.
                """)

        @OptionGroup var global: GlobalOptions
        @Option(help: "The daemon's config file.")
        var config: String = "/etc/otpgate/otpgated.toml"
        @Option(help: "Directory of the PAM service files.")
        var pamDirectory: String = "/etc/pam.d"
        @Option(name: .customLong("service"), help: "A PAM service to check (repeatable; default: sshd and sudo).")
        var services: [String] = []
        @Option(help: "The sshd config file, read with 'sshd -T -f FILE' (default: sshd's own).")
        var sshdConfig: String?
        @Option(help: "The PAM service sshd uses (its program name).")
        var sshdService: String = "sshd"

        func run() async throws {
            var findings: [DoctorFinding] = []
            let (settings, configFinding) = DoctorConfig.load(config)
            findings.append(configFinding)

            let daemonUID = getpwnam("otpgate").map { $0.pointee.pw_uid }
            findings.append(checkFile(settings.keyFile, mode: 0o600, owner: daemonUID, what: "master key"))
            findings.append(checkFile(settings.stateDirectory, mode: 0o700, owner: daemonUID, what: "store directory"))
            findings.append(checkFile(settings.databasePath, mode: 0o600, owner: daemonUID, what: "store"))

            let socket = global.socket ?? settings.socketPath
            let client = OTPGateClient(socketPath: socket, timeout: .seconds(max(1, global.timeout)))
            var reached: HealthResult?
            do {
                let health = try await client.health()
                reached = health
                findings.append(DoctorFinding(.ok, "otpgated \(health.version) answers on \(socket), up \(health.uptime) s"))
                let detail = health.storeDetail.map { " (\($0))" } ?? ""
                findings.append(health.store == "ok" ? DoctorFinding(.ok, "store: ok\(detail)")
                    : DoctorFinding(
                        .fail, "store: \(health.store)\(detail)",
                        fix: health.store == "writes_refused"
                            ? "give the database a synchronous standby (Patroni synchronous_mode), or set store.postgres.single_node = true if it has none (docs/OPERATIONS.md)"
                            : "see the daemon's log (journalctl -u otpgated)"))
                findings += DoctorTier.findings(settings: settings, configPath: config, health: health)
                findings.append(health.clockSynced ? DoctorFinding(.ok, "clock is NTP-synchronised")
                    : DoctorFinding(.warn, "clock is not NTP-synchronised",
                                    fix: "enable time sync (systemctl enable --now systemd-timesyncd); TOTP fails once the clock drifts"))
            } catch {
                findings.append(DoctorFinding(.fail, "otpgated does not answer on \(socket): \(error)",
                                              fix: "start it: systemctl start otpgated.socket otpgated.service (or sudo make install)"))
            }

            var moduleTimeouts: [(place: String, seconds: Int)] = []
            for service in services.isEmpty ? [sshdService, "sudo"] : services {
                let stack = PAMServiceCheck(directory: pamDirectory, service: service, daemonSocket: socket, sshd: service == sshdService)
                findings += stack.findings
                moduleTimeouts += stack.moduleTimeouts
                if service == sshdService { findings += checkSSHD(stack) }
            }
            if settings.mode == .relay {
                findings += DoctorRelay.findings(settings.relay, health: reached, pamTimeouts: moduleTimeouts, daemonUID: daemonUID)
            }

            if global.json {
                Output.json(findings)
            } else {
                for finding in findings { print(finding.text) }
            }
            if findings.contains(where: { $0.level == .fail }) { throw ExitCode(Failure.doctorFound) }
        }

        func checkSSHD(_ stack: PAMServiceCheck) -> [DoctorFinding] {
            let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd", "/usr/local/sbin/sshd"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/sshd"
            let (settings, message) = SSHDSettings.read(sshd: sshd, configFile: sshdConfig)
            guard let settings else {
                // Without the effective config nothing can be said about sshd; with a
                // code in its stack that is worth a warning.
                return [DoctorFinding(.warn, "sshd: cannot read its effective config: \(message)",
                                      fix: stack.usesOTPGate ? "run doctor as root where sshd is installed" : nil)]
            }
            return SSHDCheck(settings, stack: stack).findings
        }

        func checkFile(_ path: String, mode: mode_t, owner: uid_t?, what: String) -> DoctorFinding {
            var st = stat()
            guard lstat(path, &st) == 0 else {
                return DoctorFinding(.fail, "\(what) \(path) is missing", fix: "sudo make install creates it")
            }
            if st.st_mode & S_IFMT == S_IFLNK {
                return DoctorFinding(.fail, "\(what) \(path) is a symlink", fix: "replace it with the real file")
            }
            let actual = st.st_mode & 0o777
            if actual & ~mode != 0 {
                return DoctorFinding(.fail, "\(what) \(path) has mode \(String(actual, radix: 8))", fix: "chmod \(String(mode, radix: 8)) \(path)")
            } else if let owner, st.st_uid != owner {
                return DoctorFinding(.fail, "\(what) \(path) is owned by uid \(st.st_uid), not otpgate", fix: "chown otpgate: \(path)")
            }
            return DoctorFinding(.ok, "\(what) \(path) mode \(String(actual, radix: 8))")
        }
    }
}
