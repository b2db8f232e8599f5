import ArgumentParser
import Foundation
import Glibc
import OTPCore

extension OTPGateBench {
    /// PAM logins through pamtester: pam_otpgate (against otpgated and against the
    /// floor server) beside pam_google_authenticator and pam_oath, in the same run,
    /// in shuffled interleaved rounds, and again with logins seconds apart.
    struct Peers: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time PAM logins through pamtester with pam_otpgate (otpgated and the floor), pam_google_authenticator and pam_oath.",
            discussion: """
                Needs root: it adds a temporary system user and temporary /etc/pam.d service
                files (otpgate-bench-*), and the 'otpgate' system user if it is missing (as a
                real install has it); it removes what it added when done (also on Ctrl-C).

                Every timed login is one 'pamtester SERVICE USER authenticate' process, fed a
                valid TOTP code (SHA-1, 6 digits, 30 s, window ±1 step) on standard input, and
                must succeed. Each module then reads the user's state, checks the code and
                writes the new state durably (one fsync each: google-authenticator and
                pam_oath rewrite their file; otpgated and the floor commit to SQLite) before
                answering. A code cannot be used twice, so each login gets fresh state,
                prepared before the clock starts: a fresh secret in ~/.google_authenticator
                (RATE_LIMIT 3 30, WINDOW_SIZE 3, DISALLOW_REUSE, TOTP_AUTH), a fresh secret in
                the users.oath file (pam_oath usersfile= window=1), and for otpgate the next of
                a set of users enrolled before the daemon started (otpgated with its defaults,
                synchronous=FULL; the floor on its own store of the same layout).
                pam_permit (no second factor) gives pamtester's own cost.

                Interleaved: after the warm-up, each round runs one login per module in a
                fresh random order, back to back. Idle: then --idle-logins rounds in which every
                login comes --idle-gap seconds after the one before (as logins on a real host
                do, after seconds of quiet), also in random order.
                """)

        @Option(help: "Timed logins per module, interleaved.")
        var runs = 200

        @Option(help: "Untimed logins per module first.")
        var warmup = 20

        @Option(name: .customLong("idle-logins"), help: "Timed logins per module with --idle-gap seconds before each (0: none).")
        var idleLogins = 3

        @Option(name: .customLong("idle-gap"), help: "Seconds of quiet before each idle login.")
        var idleGap = 2.0

        @Option(
            name: .customLong("daemon-user"),
            help: "Who runs otpgated and the floor: otpgate (as on a real install: the module must then look that user up to trust the socket) or root.")
        var daemonUser = "otpgate"

        @Option(help: "pam_otpgate.so to load.")
        var module = "pam/build/pam_otpgate.so"

        @Option(help: "The floor server (make -C bench/floor).")
        var floor = "bench/floor/build/otpgate-floor"

        @Option(help: "The otpgated binary (default: next to this one).")
        var otpgated: String?

        @Option(help: "Where to put the temporary home, state directories and users.oath (a real disk).")
        var dir = "/var/tmp"

        @Option(help: "Directory of the system's PAM modules.")
        var pamModules = "/lib/x86_64-linux-gnu/security"

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func run() throws {
            guard geteuid() == 0 else { throw BenchError("peers needs root (a temporary user and /etc/pam.d files)") }
            guard daemonUser == PeersFixture.daemonUser || daemonUser == "root" else {
                throw ValidationError("--daemon-user is otpgate or root")
            }
            guard runs >= 1, warmup >= 0, idleLogins >= 0, idleGap >= 0 else {
                throw ValidationError("--runs must be at least 1; --warmup, --idle-logins and --idle-gap not negative")
            }
            let absolute = { (path: String) in path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path }
            let modulePath = absolute(module)
            let floorPath = absolute(floor)
            for (path, fix) in [
                (modulePath, "make -C pam"), (floorPath, "make -C bench/floor"), ("/usr/bin/pamtester", "apt-get install pamtester"),
                (pamModules + "/pam_google_authenticator.so", "apt-get install libpam-google-authenticator"),
                (pamModules + "/pam_oath.so", "apt-get install libpam-oath"),
            ] where !FileManager.default.fileExists(atPath: path) {
                throw BenchError("\(path) is missing; \(fix)")
            }
            let otpgatedPath = try CommonOptions.parse(otpgated.map { ["--otpgated", $0] } ?? []).otpgatedPath()
            try BenchEnvironment.refuseTmpfs(dir)

            let fixture = try PeersFixture(
                base: dir, module: modulePath, otpgated: otpgatedPath, floor: floorPath, logins: runs + warmup + idleLogins,
                daemonAsUser: daemonUser != "root")
            defer { fixture.remove() }
            PeersFixture.removeOnSignal(fixture)
            if !json {
                print("== PAM logins through pamtester: \(runs) timed per module after \(warmup) warm-up, shuffled interleaved rounds; then \(idleLogins) per module \(idleGap) s apart")
                print("temporary user \(fixture.user), services /etc/pam.d/otpgate-bench-*, files in \(fixture.work)")
                print("user \(PeersFixture.daemonUser) " + (fixture.createdDaemonUser ? "created for this run (removed at the end)" : "exists (left as it is)")
                    + "; otpgated and the floor run as \(daemonUser)")
                print("machine: \(MachineState.summary()) (at start)")
            }

            let peers = PAMPeer.allCases
            var login = 0
            func timedLogin(_ peer: PAMPeer, round: Int, gap: Double) throws -> UInt64 {
                let (user, code) = try fixture.prepare(peer, login: round)
                if gap > 0 { usleep(useconds_t(gap * 1e6)) }
                let outcome = try ChildProcess.run(["/usr/bin/pamtester", peer.service, user, "authenticate"], input: code + "\n")
                guard outcome.status == 0 else {
                    throw BenchError("login \(round) through \(peer.rawValue) failed (pamtester exit \(outcome.status)); see the journal or \(fixture.work)")
                }
                return outcome.nanoseconds
            }
            var interleaved: [PAMPeer: [UInt64]] = [:]
            for round in 0..<(warmup + runs) {
                for peer in peers.shuffled() {
                    let t = try timedLogin(peer, round: login, gap: 0)
                    if round >= warmup { interleaved[peer, default: []].append(t) }
                }
                login += 1
            }
            var idle: [PAMPeer: [UInt64]] = [:]
            for _ in 0..<idleLogins {
                for peer in peers.shuffled() { idle[peer, default: []].append(try timedLogin(peer, round: login, gap: idleGap)) }
                login += 1
            }

            let tables = [("interleaved", interleaved), ("idle", idle)].filter { !$0.1.isEmpty }.map { name, samples in
                (name, Dictionary(uniqueKeysWithValues: peers.map { ($0, LatencySummary(samples[$0] ?? [])) }))
            }
            if json {
                var object: [String: Any] = [
                    "runs": runs, "warmup": warmup, "idle_logins": idleLogins, "idle_gap_s": idleGap, "machine": MachineState.summary(),
                    "otpgate_user_created": fixture.createdDaemonUser, "daemon_user": daemonUser,
                ]
                for (name, summaries) in tables {
                    var table: [String: Any] = [:]
                    for peer in peers {
                        let s = summaries[peer]!
                        table[peer.rawValue] = [
                            "median_ms": Double(s.p50) / 1e6, "mean_ms": s.mean / 1e6, "p90_ms": Double(s.p90) / 1e6,
                            "p99_ms": Double(s.p99) / 1e6,
                        ]
                    }
                    let ratio = { (a: PAMPeer, b: PAMPeer) in Double(summaries[a]!.p50) / Double(summaries[b]!.p50) }
                    table["ratio_otpgate_to_google_median"] = ratio(.otpgate, .google)
                    table["ratio_otpgate_to_oath_median"] = ratio(.otpgate, .oath)
                    table["ratio_otpgate_to_floor_median"] = ratio(.otpgate, .floor)
                    table["ratio_floor_to_google_median"] = ratio(.floor, .google)
                    object[name] = table
                }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            for (name, summaries) in tables {
                let base = summaries[.baseline]!
                let google = summaries[.google]!
                let floorSummary = summaries[.floor]!
                print("-- \(name): \(summaries[.baseline]!.count) logins per module" + (name == "idle" ? ", \(idleGap) s of quiet before each" : ""))
                print("module                      median    mean     p90     p99   (ms)  over pam_permit  to google (median / mean)  to floor (median)")
                for peer in peers {
                    let s = summaries[peer]!
                    let extra = Double(Int64(s.p50) - Int64(base.p50)) / 1e6
                    var line = peer.rawValue.padding(toLength: 26, withPad: " ", startingAt: 0)
                        + String(format: "%7.2f %7.2f %7.2f %7.2f        %+7.2f", Double(s.p50) / 1e6, s.mean / 1e6, Double(s.p90) / 1e6, Double(s.p99) / 1e6, extra)
                    if peer != .baseline {
                        line += String(format: "          %.2f / %.2f", Double(s.p50) / Double(google.p50), s.mean / google.mean)
                        line += String(format: "                %.2f", Double(s.p50) / Double(floorSummary.p50))
                    }
                    print(line)
                }
            }
        }
    }
}
