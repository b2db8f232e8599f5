import Foundation
import OTPGateClient
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// doctor's walk through a stack against libpam's own: random stacks of pam_permit,
/// pam_deny and one pam_otpgate line under assorted controls (from a fixed seed, so a
/// failure can be rerun), each judged by `otpgate admin doctor` and then run through
/// libpam with a wrong and a right code. With only these modules the outcome depends on
/// the code alone, and every control here treats all failures alike, so doctor must call
/// a stack safe exactly when libpam refuses the wrong code and takes the right one.
@Suite(.ownThreads) struct DoctorDifferentialTests {
    static let controls = [
        "required", "requisite", "sufficient", "optional", "[success=ok default=bad]", "[success=done default=die]",
        "[success=1 default=ignore]", "[success=ok default=ignore]", "[default=ignore]", "[success=2 default=bad]",
        "[default=reset]", "[success=ok ignore=ignore default=bad]", "[success=1 default=bad]", "[success=done default=ignore]",
    ]

    /// SplitMix64, for a reproducible table.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func stacks(count: Int, seed: UInt64) -> [String] {
        var random = Seeded(state: seed)
        return (0..<count).map { _ in
            let others = Int.random(in: 1...4, using: &random)
            let at = Int.random(in: 0...others, using: &random)
            return (0...others).map { i in
                let control = controls.randomElement(using: &random)!
                let module = i == at ? "MODULE socket=SOCKET timeout=30" : ["pam_permit.so", "pam_deny.so"].randomElement(using: &random)!
                return "auth \(control) \(module)\n"
            }.joined()
        }
    }

    @Test func doctorAgreesWithLibpam() async throws {
        try await PAMBuild.built.value
        // Tokens are imported, not enrolled: an enrolment's recovery codes cost a slow
        // KDF hash, and a test of PAM stacks needs none.
        let daemon = try await DaemonProcess.started(owner: DoctorTests.daemonOwner)
        let admin = OTPGateClient(socketPath: daemon.adminSocketPath, timeout: .seconds(60))
        let stacks = Self.stacks(count: 60, seed: 20_261_201)
        var safe = 0
        await withTaskGroup(of: Bool?.self) { group in
            var pending = stacks.enumerated()[...]
            func next() {
                guard let (n, text) = pending.popFirst() else { return }
                group.addTask {
                    do {
                        return try await Self.compare(text, user: "difftest-\(n)", daemon: daemon, admin: admin, directory: daemon.directory + "/stack\(n)")
                    } catch {
                        Issue.record("stack \(n): \(error)\n\(text)")
                        return nil
                    }
                }
            }
            for _ in 0..<4 { next() }
            while let verdict = await group.next() {
                if verdict == true { safe += 1 }
                next()
            }
        }
        // A table where every stack was safe, or none, would show little.
        #expect(safe >= 5 && safe <= stacks.count - 5, "\(safe) of \(stacks.count) called safe")
        print("doctor differential: \(safe) of \(stacks.count) stacks called safe, libpam agreed on each")
        await daemon.stop()
    }

    /// Whether doctor called the stack safe (after checking it against libpam). No
    /// module here looks the user up, so `user` need not exist on the system.
    static func compare(_ text: String, user: String, daemon: DaemonProcess, admin: OTPGateClient, directory: String) async throws -> Bool {
        let token = try await admin.importHOTP(user: user)
        let confdir = directory + "/pam.d"
        try FileManager.default.createDirectory(atPath: confdir, withIntermediateDirectories: true)
        let stack = text.replacing("MODULE", with: PAMBuild.module).replacing("SOCKET", with: daemon.socketPath)
        try stack.write(toFile: confdir + "/sudo", atomically: true, encoding: .utf8)
        let doctor = try await Programs.otpgate(["admin", "doctor", "--timeout", "60", "--socket", daemon.socketPath,
                                                 "--config", directory + "/none.toml", "--pam-directory", confdir, "--service", "sudo"])
        // Only the PAM findings: the rest (key, store) is the test daemon's business.
        let pamFailures = doctor.stdout.split(separator: "\n").filter { $0.hasPrefix("FAIL  \(confdir)/") }
        let wrong = try await PAMBuild.login(confdir: confdir, service: "sudo", user: user, code: token.wrongCode(), password: false)
        let right = try await PAMBuild.login(confdir: confdir, service: "sudo", user: user, code: token.code(1), password: false)
        let holds = wrong != "PAM_SUCCESS" && right == "PAM_SUCCESS"
        #expect(pamFailures.isEmpty == holds,
                "doctor and libpam disagree: wrong code \(wrong), right code \(right)\n\(text)\n\(doctor.stdout)")
        return pamFailures.isEmpty
    }
}
