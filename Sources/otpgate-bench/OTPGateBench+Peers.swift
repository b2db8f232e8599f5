import ArgumentParser
import Foundation
import Glibc
import OTPCore

extension OTPGateBench {
    /// PAM logins through pamtester: pam_otpgate against pam_google_authenticator and
    /// pam_oath, in the same run, interleaved.
    struct Peers: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time PAM logins through pamtester with pam_otpgate, pam_google_authenticator and pam_oath.",
            discussion: """
                Needs root: it adds a temporary system user and temporary /etc/pam.d service
                files (otpgate-bench-*), and removes both when done (also on Ctrl-C).

                Every timed login is one 'pamtester SERVICE USER authenticate' process, fed a
                valid TOTP code (SHA-1, 6 digits, 30 s, window ±1 step) on standard input, and
                must succeed. Each module then reads the user's state, checks the code and
                writes the new state durably (one fsync each: google-authenticator and
                pam_oath rewrite their file; otpgated commits to SQLite) before answering.
                A code cannot be used twice, so each login gets fresh state, prepared before
                the clock starts: a fresh secret in ~/.google_authenticator (RATE_LIMIT 3 30,
                WINDOW_SIZE 3, DISALLOW_REUSE, TOTP_AUTH), a fresh secret in the users.oath
                file (pam_oath usersfile= window=1), and for otpgate the next of a set of
                users enrolled before the daemon started (otpgated with its defaults,
                synchronous=FULL). pam_permit (no second factor) gives pamtester's own cost.
                The four are interleaved, in a rotating order, after a warm-up.
                """)

        @Option(help: "Timed logins per module.")
        var runs = 200

        @Option(help: "Untimed logins per module first.")
        var warmup = 20

        @Option(help: "pam_otpgate.so to load.")
        var module = "pam/build/pam_otpgate.so"

        @Option(help: "The otpgated binary (default: next to this one).")
        var otpgated: String?

        @Option(help: "Where to put the temporary home, state directory and users.oath (a real disk).")
        var dir = "/var/tmp"

        @Option(help: "Directory of the system's PAM modules.")
        var pamModules = "/lib/x86_64-linux-gnu/security"

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func run() throws {
            guard geteuid() == 0 else { throw BenchError("peers needs root (a temporary user and /etc/pam.d files)") }
            let modulePath = module.hasPrefix("/") ? module : FileManager.default.currentDirectoryPath + "/" + module
            for (path, fix) in [
                (modulePath, "make -C pam"), ("/usr/bin/pamtester", "apt-get install pamtester"),
                (pamModules + "/pam_google_authenticator.so", "apt-get install libpam-google-authenticator"),
                (pamModules + "/pam_oath.so", "apt-get install libpam-oath"),
            ] where !FileManager.default.fileExists(atPath: path) {
                throw BenchError("\(path) is missing; \(fix)")
            }
            let otpgatedPath = try CommonOptions.parse(otpgated.map { ["--otpgated", $0] } ?? []).otpgatedPath()
            try BenchEnvironment.refuseTmpfs(dir)

            let fixture = try PeersFixture(base: dir, module: modulePath, otpgated: otpgatedPath, logins: runs + warmup)
            defer { fixture.remove() }
            PeersFixture.removeOnSignal(fixture)
            if !json {
                print("== PAM logins through pamtester: \(runs) timed per module after \(warmup) warm-up, interleaved")
                print("temporary user \(fixture.user), services /etc/pam.d/otpgate-bench-*, files in \(fixture.work)")
                print("machine: \(MachineState.summary()) (at start)")
            }

            var samples: [PAMPeer: [UInt64]] = [:]
            let peers = PAMPeer.allCases
            for round in 0..<(warmup + runs) {
                for k in 0..<peers.count {
                    let peer = peers[(round + k) % peers.count]
                    let (user, code) = try fixture.prepare(peer, login: round)
                    let outcome = try ChildProcess.run(
                        ["/usr/bin/pamtester", peer.service, user, "authenticate"], input: code + "\n")
                    guard outcome.status == 0 else {
                        throw BenchError("login \(round) through \(peer.rawValue) failed (pamtester exit \(outcome.status)); see the journal or \(fixture.work)")
                    }
                    if round >= warmup { samples[peer, default: []].append(outcome.nanoseconds) }
                }
            }

            let summaries = Dictionary(uniqueKeysWithValues: peers.map { ($0, LatencySummary(samples[$0] ?? [])) })
            let base = summaries[.baseline]!
            let google = summaries[.google]!
            if json {
                var object: [String: Any] = ["runs": runs, "warmup": warmup, "machine": MachineState.summary()]
                for peer in peers {
                    let s = summaries[peer]!
                    object[peer.rawValue] = [
                        "median_ms": Double(s.p50) / 1e6, "mean_ms": s.mean / 1e6, "p90_ms": Double(s.p90) / 1e6,
                        "p99_ms": Double(s.p99) / 1e6,
                    ]
                }
                object["ratio_otpgate_to_google_median"] = Double(summaries[.otpgate]!.p50) / Double(google.p50)
                object["ratio_otpgate_to_oath_median"] = Double(summaries[.otpgate]!.p50) / Double(summaries[.oath]!.p50)
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("module                      median    mean     p90     p99   (ms)  median-pam_permit  ratio to google (median / mean)")
            for peer in peers {
                let s = summaries[peer]!
                let extra = Double(Int64(s.p50) - Int64(base.p50)) / 1e6
                print(
                    peer.rawValue.padding(toLength: 26, withPad: " ", startingAt: 0)
                        + String(format: "%7.2f %7.2f %7.2f %7.2f        %+7.2f", Double(s.p50) / 1e6, s.mean / 1e6, Double(s.p90) / 1e6, Double(s.p99) / 1e6, extra)
                        + (peer == .baseline
                            ? "" : String(format: "            %.2f / %.2f", Double(s.p50) / Double(google.p50), s.mean / google.mean)))
            }
        }
    }
}
