import ArgumentParser
import Foundation
import Glibc
import OTPGateClient
import OTPGateProtocol
import OTPGateConfig

extension Admin {
    /// Checks the host: every line says ok, warn or FAIL, and for a problem the fix.
    struct Doctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the daemon, key and store modes, the clock, and the PAM and sshd setup.",
            discussion: "Exit status 4 when a check FAILs; warnings alone exit 0.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "The daemon's config file.")
        var config: String = "/etc/otpgate/otpgated.toml"
        @Option(help: "Directory of the PAM service files.")
        var pamDirectory: String = "/etc/pam.d"
        @Option(help: "The sshd config to read when 'sshd -T' cannot run.")
        var sshdConfig: String = "/etc/ssh/sshd_config"

        struct Check: Encodable {
            let level: String  // ok, warn, fail
            let what: String
            let fix: String?
        }

        func run() async throws {
            var checks: [Check] = []
            func add(_ level: String, _ what: String, fix: String? = nil) { checks.append(Check(level: level, what: what, fix: fix)) }

            var settings = ServerConfig()
            if FileManager.default.fileExists(atPath: config) {
                do {
                    settings = try ServerConfig(parsing: try String(contentsOfFile: config, encoding: .utf8), name: config)
                    add("ok", "config \(config) parses")
                } catch {
                    add("fail", "config: \(error)", fix: "correct the line named, see etc/otpgate/otpgated.toml")
                }
            } else {
                add("ok", "no \(config): built-in defaults apply")
            }

            let daemonUID = getpwnam("otpgate").map { $0.pointee.pw_uid }
            checkFile(settings.keyFile, mode: 0o600, owner: daemonUID, what: "master key", add: add)
            checkFile(settings.stateDirectory, mode: 0o700, owner: daemonUID, what: "store directory", add: add)
            checkFile(settings.databasePath, mode: 0o600, owner: daemonUID, what: "store", add: add)

            let client = global.socket.map { OTPGateClient(socketPath: $0) } ?? OTPGateClient(socketPath: settings.socketPath)
            do {
                let health = try await client.health()
                add("ok", "otpgated \(health.version) answers on \(client.socketPath), up \(health.uptime) s")
                add(health.store == "ok" ? "ok" : "fail", "store: \(health.store)",
                    fix: health.store == "ok" ? nil : "see the daemon's log (journalctl -u otpgated)")
                add(health.clockSynced ? "ok" : "warn", health.clockSynced ? "clock is NTP-synchronised" : "clock is not NTP-synchronised",
                    fix: health.clockSynced ? nil : "enable time sync (systemctl enable --now systemd-timesyncd); TOTP fails once the clock drifts")
            } catch {
                add("fail", "otpgated does not answer on \(client.socketPath): \(error)",
                    fix: "start it: systemctl start otpgated.socket otpgated.service (or sudo make install)")
            }

            for service in ["sshd", "sudo"] {
                checkPAM(service, add: add)
            }
            checkSSHD(add: add)

            if global.json {
                Output.json(checks)
            } else {
                for c in checks {
                    let tag = c.level == "fail" ? "FAIL" : c.level
                    print("\(tag.padding(toLength: 5, withPad: " ", startingAt: 0)) \(c.what)" + (c.fix.map { "\n      fix: \($0)" } ?? ""))
                }
            }
            if checks.contains(where: { $0.level == "fail" }) { throw ExitCode(Failure.doctorFound) }
        }

        func checkFile(_ path: String, mode: mode_t, owner: uid_t?, what: String, add: (String, String, String?) -> Void) {
            var st = stat()
            guard lstat(path, &st) == 0 else {
                add("fail", "\(what) \(path) is missing", "sudo make install creates it")
                return
            }
            if st.st_mode & S_IFMT == S_IFLNK {
                add("fail", "\(what) \(path) is a symlink", "replace it with the real file")
                return
            }
            let actual = st.st_mode & 0o777
            if actual & ~mode != 0 {
                add("fail", "\(what) \(path) has mode \(String(actual, radix: 8))", "chmod \(String(mode, radix: 8)) \(path)")
            } else if let owner, st.st_uid != owner {
                add("fail", "\(what) \(path) is owned by uid \(st.st_uid), not otpgate", "chown otpgate: \(path)")
            } else {
                add("ok", "\(what) \(path) mode \(String(actual, radix: 8))", nil)
            }
        }

        func checkPAM(_ service: String, add: (String, String, String?) -> Void) {
            let path = pamDirectory + "/" + service
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                add("warn", "\(path) not found", nil)
                return
            }
            let active = text.split(separator: "\n").contains { line in
                let l = line.trimmingCharacters(in: .whitespaces)
                return !l.hasPrefix("#") && l.contains("pam_otpgate.so") && l.hasPrefix("auth")
            }
            add(active ? "ok" : "warn", active ? "\(path) asks for a code" : "\(path) does not use pam_otpgate",
                active ? nil : "add 'auth required pam_otpgate.so nullok' after '@include common-auth'")
        }

        /// Effective sshd settings: `sshd -T` when it can run (root), else the file.
        func checkSSHD(add: (String, String, String?) -> Void) {
            var settings: [String: String] = [:]
            let sshd = Process()
            sshd.executableURL = URL(fileURLWithPath: "/usr/sbin/sshd")
            sshd.arguments = ["-T"]
            let out = Pipe()
            sshd.standardOutput = out
            sshd.standardError = FileHandle.nullDevice
            var text = ""
            if FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd"), (try? sshd.run()) != nil {
                text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                sshd.waitUntilExit()
                if sshd.terminationStatus != 0 { text = "" }
            }
            if text.isEmpty { text = (try? String(contentsOfFile: sshdConfig, encoding: .utf8)) ?? "" }
            guard !text.isEmpty else {
                add("warn", "sshd is not installed or its config is unreadable", nil)
                return
            }
            for line in text.split(separator: "\n") {
                let parts = line.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
                guard parts.count == 2, !parts[0].hasPrefix("#") else { continue }
                let key = parts[0].lowercased()
                if settings[key] == nil { settings[key] = String(parts[1]).lowercased() }  // first value wins
            }
            let usePAM = settings["usepam"] == "yes"
            add(usePAM ? "ok" : "warn", "sshd UsePAM \(settings["usepam"] ?? "unset")", usePAM ? nil : "set 'UsePAM yes' in sshd_config")
            let kbd = settings["kbdinteractiveauthentication"] ?? settings["challengeresponseauthentication"]
            add(kbd == "yes" ? "ok" : "warn", "sshd KbdInteractiveAuthentication \(kbd ?? "unset")",
                kbd == "yes" ? nil : "set 'KbdInteractiveAuthentication yes' in sshd_config")
            let methods = settings["authenticationmethods"] ?? "any"
            let asks = methods.contains("keyboard-interactive")
            add(asks ? "ok" : "warn", "sshd AuthenticationMethods \(methods)",
                asks ? nil : "require a code, e.g. 'AuthenticationMethods publickey,keyboard-interactive:pam keyboard-interactive:pam'")
        }
    }
}
