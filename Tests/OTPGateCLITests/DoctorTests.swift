import Foundation
import Glibc
import OTPGateTestSupport
import Testing

/// `otpgate admin doctor` on a test daemon: it finds the daemon, checks the key and
/// store modes, and its exit status says whether anything FAILed.
@Suite(.ownThreads) struct DoctorTests {
    /// The daemon runs as the `otpgate` system user when there is one (as in production:
    /// doctor then expects that user to own the key and store), else as root.
    static var daemonOwner: (uid: UInt32, gid: UInt32)? {
        getpwnam("otpgate").map { ($0.pointee.pw_uid, $0.pointee.pw_gid) }
    }

    @Test func doctorReportsTheDaemonAndFailsOnAnOpenKeyFileOrADaemonThatIsDown() async throws {
        let daemon = try await DaemonProcess.started(owner: Self.daemonOwner)
        let state = daemon.stateDirectory
        let config = daemon.directory + "/doctor.toml"
        try """
            [paths]
            state_dir = "\(state)/store"
            key_file = "\(daemon.keyPath)"
            socket = "\(daemon.socketPath)"
            admin_socket = "\(daemon.adminSocketPath)"
            """.write(toFile: config, atomically: true, encoding: .utf8)
        // PAM and sshd files under our control: sshd asks for a code, sudo does not.
        try await PAMBuild.built.value
        let pam = daemon.directory + "/pam.d"
        try FileManager.default.createDirectory(atPath: pam, withIntermediateDirectories: true)
        try DoctorStack.commonAuth.write(toFile: pam + "/common-auth", atomically: true, encoding: .utf8)
        try "@include common-auth\nauth required \(PAMBuild.module) socket=\(daemon.socketPath) nullok\n"
            .write(toFile: pam + "/sshd", atomically: true, encoding: .utf8)
        try "@include common-auth\n".write(toFile: pam + "/sudo", atomically: true, encoding: .utf8)
        let sshdConfig = daemon.directory + "/sshd_config"
        try DoctorStack.recipe.write(toFile: sshdConfig, atomically: true, encoding: .utf8)
        let doctor = ["admin", "doctor", "--socket", daemon.socketPath, "--config", config, "--pam-directory", pam, "--sshd-config", sshdConfig]

        // All well: ok and warn lines only, exit 0.
        let healthy = try await Programs.otpgate(doctor)
        #expect(healthy.status == 0 && healthy.stderr.isEmpty, "\(healthy)")
        let lines = healthy.stdout.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(6)).map { $0.replacing(#/up [0-9]+ s$/#, with: "up N s") } == [
            "ok    config \(config) parses",
            "ok    master key \(daemon.keyPath) mode 600",
            "ok    store directory \(state)/store mode 700",
            "ok    store \(state)/store/otpgate.db mode 600",
            "ok    otpgated 0.1.0 answers on \(daemon.socketPath), up N s",
            "ok    store: ok",
        ], "\(healthy.stdout)")
        #expect(healthy.stdout.contains("""
            ok    \(pam)/sshd:2: 'auth required \(PAMBuild.module) socket=\(daemon.socketPath) nullok': a code is mandatory after the password (pam_unix.so at \(pam)/common-auth:1)

            """), "\(healthy.stdout)")
        #expect(healthy.stdout.contains("""
            warn  \(pam)/sudo does not use pam_otpgate
                  fix: add 'auth required pam_otpgate.so nullok' after '@include common-auth'

            """))
        #expect(!healthy.stdout.contains("FAIL"))
        #expect(lines.allSatisfy { line in ["ok    ", "warn  ", "      fix: "].contains { line.hasPrefix($0) } }, "\(healthy.stdout)")

        // The key readable by everyone: a FAIL line with its fix, exit 4; also in --json.
        chmod(daemon.keyPath, 0o644)
        let open = try await Programs.otpgate(doctor)
        #expect(open.status == 4 && open.stderr.isEmpty, "\(open)")
        #expect(open.stdout.contains("""
            FAIL  master key \(daemon.keyPath) has mode 644
                  fix: chmod 600 \(daemon.keyPath)

            """), "\(open.stdout)")
        #expect(open.stdout.components(separatedBy: "FAIL").count == 2, "only the key fails")
        let json = try await Programs.otpgate(doctor + ["--json"])
        #expect(json.status == 4, "\(json)")
        let checks = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]], "\(json)")
        let failed = checks.filter { $0["level"] as? String == "fail" }
        #expect(failed.count == 1)
        #expect(failed.first?["what"] as? String == "master key \(daemon.keyPath) has mode 644")
        #expect(failed.first?["fix"] as? String == "chmod 600 \(daemon.keyPath)")
        #expect(checks.allSatisfy { ["ok", "warn", "fail"].contains($0["level"] as? String ?? "") && $0["what"] is String })
        chmod(daemon.keyPath, 0o600)

        // The daemon down: a FAIL line that says how to start it, exit 4.
        await daemon.stop()
        let down = try await Programs.otpgate(doctor)
        #expect(down.status == 4, "\(down)")
        #expect(down.stdout.contains("""
            FAIL  otpgated does not answer on \(daemon.socketPath): cannot connect to otpgated at \(daemon.socketPath): No such file or directory; is the daemon running?
                  fix: start it: systemctl start otpgated.socket otpgated.service (or sudo make install)

            """), "\(down.stdout)")
    }
}
