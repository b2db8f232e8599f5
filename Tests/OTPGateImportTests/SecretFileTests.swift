import Foundation
import Glibc
import OTPGateImport
import Testing

/// Reading another user's secret file as root: every refusal names the file and why.
@Suite("secret file reads")
struct SecretFileTests {
    func refusal(_ path: String, owner: (uid: UInt32, name: String)? = nil) -> String? {
        if case .failure(let issue) = SecretFile.read(path, owner: owner) { return issue.description }
        return nil
    }

    @Test("symlink, FIFO, directory, wrong owner, group-writable, oversized; readable warned")
    func refusals() throws {
        let dir = try Fixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/ga"
        try Fixtures.write("JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n", to: file)
        guard case .success(let ok) = SecretFile.read(file, owner: (getuid(), "me")) else { Issue.record("plain file refused"); return }
        #expect(ok.bytes.count == 29 && ok.issues.isEmpty)

        symlink(file, dir + "/link")
        #expect(refusal(dir + "/link")?.contains("\(dir)/link: error: is a symbolic link") == true)
        mkfifo(dir + "/fifo", 0o600)  // nobody writes it: a blocking open would hang here
        #expect(refusal(dir + "/fifo")?.contains("is a FIFO, not a regular file") == true)
        #expect(refusal(dir)?.contains("is a directory") == true)
        #expect(refusal(file, owner: (getuid() + 1, "other"))?.contains("belongs to uid \(getuid()), not to other") == true)
        chmod(file, 0o620)
        #expect(refusal(file)?.contains("writable by group or others (mode 0620)") == true)
        chmod(file, 0o644)
        guard case .success(let readable) = SecretFile.read(file, owner: nil) else { Issue.record("0644 refused"); return }
        #expect(readable.issues.first?.message.contains("readable by group or others (mode 0644)") == true)
        try Fixtures.write(String(repeating: "A", count: SecretFile.defaultMaxBytes + 1), to: dir + "/big")
        #expect(refusal(dir + "/big")?.contains("more than the 65536") == true)
        #expect(refusal(dir + "/missing")?.contains("does not exist") == true)
    }

    @Test("pam_google_authenticator's path patterns")
    func patterns() {
        #expect(SecretFile.expand("~/.google_authenticator", user: "a", home: "/home/a") == "/home/a/.google_authenticator")
        #expect(SecretFile.expand("/var/lib/ga/${USER}", user: "a", home: "/h") == "/var/lib/ga/a")
        #expect(SecretFile.expand("${HOME}/x/${USER}", user: "a", home: "/h") == "/h/x/a")
    }
}
