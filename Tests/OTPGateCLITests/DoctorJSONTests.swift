import Foundation
import OTPGateTestSupport
import Testing

/// doctor's findings in --json: a PAM finding carries its file and line as fields, and
/// a stack that is fine carries none that fail.
@Suite(.ownThreads) struct DoctorJSONTests {
    @Test func aPAMFindingNamesItsFileAndLineInJSON() async throws {
        try await PAMBuild.built.value
        let daemon = try await DaemonProcess.started(owner: DoctorTests.daemonOwner)
        let confdir = daemon.directory + "/pam.d"
        try FileManager.default.createDirectory(atPath: confdir, withIntermediateDirectories: true)
        try DoctorStack.commonAuth.write(toFile: confdir + "/common-auth", atomically: true, encoding: .utf8)
        try "# sudo\n@include common-auth\nauth sufficient \(PAMBuild.module) socket=\(daemon.socketPath)\n"
            .write(toFile: confdir + "/sudo", atomically: true, encoding: .utf8)
        let run = try await Programs.otpgate(["admin", "doctor", "--json", "--socket", daemon.socketPath, "--pam-directory", confdir, "--service", "sudo",
                                              "--config", daemon.directory + "/none.toml"])
        #expect(run.status == 4, "\(run)")
        let findings = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]], "\(run)")
        let pam = findings.filter { $0["file"] as? String == confdir + "/sudo" }
        #expect(pam.count == 1, "\(findings)")
        #expect(pam.first?["level"] as? String == "fail")
        #expect(pam.first?["line"] as? Int == 3)
        #expect((pam.first?["what"] as? String)?.hasPrefix("'auth sufficient \(PAMBuild.module) socket=\(daemon.socketPath)': a wrong code is ignored") == true, "\(pam)")
        #expect(pam.first?["fix"] as? String == "write it 'auth required pam_otpgate.so ...' (or requisite)")
    }
}
