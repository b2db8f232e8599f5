import Foundation
import Glibc
import OTPCore
import OTPGateClient
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// `otpgate enroll` as people use it (through a pseudo-terminal, driven by pexpect) and
/// as scripts use it (`--json`, then `enroll confirm ID --code CODE --json`).
@Suite(.ownThreads) struct EnrolmentTests {
    /// What enroll_pty.py saw on the terminal.
    struct Session: Decodable {
        let transcript: String
        let typed: [String]
        let key: String?
        let exit: Int32?
        let signal: Int32?

        /// The terminal's lines, without the pty's carriage returns.
        var lines: [Substring] { transcript.replacing("\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false) }
    }

    /// Runs enroll_pty.py (next to this file) with the system's python3, which has pexpect.
    static func drive(socket: String, mode: String) async throws -> Session {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("enroll_pty.py").path
        let run = try await Command.check("/usr/bin/python3", [script, Programs.otpgate, socket, mode])
        return try JSONDecoder().decode(Session.self, from: Data(run.stdout.utf8))
    }

    static let blocks: Set<Character> = ["█", "▀", "▄", " "]
    static var recoveryCodePattern: Regex<Substring> { #/[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}/# }

    @Test func interactiveEnrolmentShowsQRAndKeyConfirmsWithOathtoolAndShowsRecoveryCodesOnce() async throws {
        let daemon = try await DaemonProcess.started()

        // LANG=C on a terminal that does not answer the UTF-8 probe (pexpect does not):
        // no block characters; an ASCII drawing in colour if it fits the 60x80 pty, else
        // a pointer to --qr-svg; the key either way. End of input at the prompt ends the
        // command. (The QR code itself is checked in an 80x24 tmux pane, both locales,
        // by Tests/System/test_qr_terminal.py.)
        let plain = try await Self.drive(socket: daemon.socketPath, mode: "eof")
        #expect(plain.exit == 1, "\(plain.transcript)")
        #expect(!plain.transcript.contains { Self.blocks.subtracting([" "]).contains($0) }, "no block characters:\n\(plain.transcript)")
        #expect(plain.transcript.contains("'otpgate enroll --qr-svg FILE'") || plain.transcript.contains("\u{1B}[107m  "),
                "\(plain.transcript)")
        #expect(plain.lines.allSatisfy { $0.replacing(#/\x1B\[[0-9;]*[mnK]/#, with: "").count <= 80 }, "\(plain.transcript)")
        #expect(plain.key != nil, "the key is shown:\n\(plain.transcript)")
        #expect(plain.lines.suffix(2).first == "otpgate: no code given; nothing was enrolled", "\(plain.transcript)")

        // LANG=C.UTF-8: half blocks in 80 columns; a wrong code, then oathtool's.
        let session = try await Self.drive(socket: daemon.socketPath, mode: "confirm")
        let text = session.transcript
        #expect(session.exit == 0 && session.signal == nil, "\(text)")
        #expect(session.lines.allSatisfy { $0.count <= 80 }, "every line fits 80 columns:\n\(text)")
        #expect(session.lines.first == "Scan this with your authenticator app:")
        // Each line of the code is black on bright white (SGR 30;107 ... 0).
        let qr = session.lines.map { $0.replacing(#/\x1B\[[0-9;]*m/#, with: "") }
            .filter { !$0.isEmpty && $0.allSatisfy(Self.blocks.contains) && $0.contains("█") }
        #expect(qr.count >= 12, "a QR code of half blocks (at least 21 modules on 11 lines plus the quiet zone):\n\(text)")
        #expect(Set(qr.map(\.count)).count == 1, "a square of equal lines")

        // The key grouped in fours, Base32, 160 bits.
        let key = try #require(session.key, "no key line:\n\(text)")
        let groups = key.split(separator: " ", omittingEmptySubsequences: false)
        #expect(groups.count == 8 && groups.allSatisfy { $0.count == 4 }, "\(key)")
        #expect(key.replacing(" ", with: "").allSatisfy { "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains($0) })
        #expect(text.contains("(time-based, SHA1, 6 digits, 30 s)"))
        #expect(!text.contains("otpauth://"), "the URI is shown only with --show-uri")

        // Codes are read without echo; a wrong one gets another try.
        #expect(session.typed.count == 2)
        for code in session.typed { #expect(!text.contains(code), "the typed code \(code) was echoed") }
        #expect(text.components(separatedBy: "That code does not match; check the app's clock and try the next code.").count == 2)
        #expect(text.contains("Token 'default' is active."))

        // Ten recovery codes, each shown exactly once, after the confirmation.
        let codes = text.matches(of: Self.recoveryCodePattern).map { String($0.output) }
        #expect(codes.count == 10 && Set(codes).count == 10, "\(text)")
        let active = try #require(text.range(of: "Token 'default' is active."))
        if let first = codes.first, let shown = text.range(of: first) { #expect(shown.lowerBound > active.upperBound) }
        #expect(text.contains("They are shown\r\nonly now: store them somewhere safe"))

        // The daemon has the token; status shows no codes, only how many are left.
        let status = try await daemon.admin.status(user: "root")
        #expect(status.enrolled && status.tokens.map(\.name) == ["default"] && status.tokens.first?.kind == .totp)
        #expect(status.recoveryRemaining == 10)

        // One recovery code works exactly once.
        let used = try await daemon.admin.verify(user: "root", code: codes[3], service: "test")
        #expect(used.factor == .recovery && used.recoveryRemaining == 9)
        do {
            let twice = try await daemon.admin.verify(user: "root", code: codes[3])
            Issue.record("a used recovery code was accepted again: \(twice)")
        } catch {
            #expect((error as? OTPGateClientError)?.code == .daemon(.invalidCode), "\(error)")
        }
        let after = try await Programs.otpgate(["status", "--socket", daemon.socketPath])
        #expect(after.status == 0 && after.stdout.contains("recovery codes:     9 left\n"), "\(after)")
        #expect(codes.allSatisfy { !after.stdout.contains($0) })
    }

    /// The QR code decodes to exactly the otpauth URI: the SVG from --qr-svg, rendered
    /// to PNG (rsvg-convert) and read by a real QR reader (zbarimg).
    @Test func qrCodeDecodesToTheURI() async throws {
        let daemon = try await DaemonProcess.started()
        let svg = daemon.directory + "/qr.svg"
        let png = daemon.directory + "/qr.png"
        let begin = try await Programs.otpgate(["enroll", "--json", "--qr-svg", svg, "--socket", daemon.socketPath])
        #expect(begin.status == 0, "\(begin)")
        let begun = try #require(try JSONSerialization.jsonObject(with: Data(begin.stdout.utf8)) as? [String: Any])
        let uri = try #require(begun["uri"] as? String)
        var st = stat()
        #expect(stat(svg, &st) == 0 && st.st_mode & 0o777 == 0o600, "the SVG holds the secret: mode 0600")
        _ = try await Command.check("/usr/bin/rsvg-convert", [svg, "-o", png])
        let decoded = try await Command.check("/usr/bin/zbarimg", ["-q", "--raw", png])
        #expect(decoded.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == uri)
    }

    @Test func scriptableEnrolmentPrintsJSONAndConfirmsWithACodeArgument() async throws {
        let daemon = try await DaemonProcess.started()
        let user = try await ThrowawayUser.created()
        defer { user.remove() }
        let started = unixNow()

        let begin = try await Programs.otpgate(["enroll", "--json", "--socket", daemon.socketPath], as: user)
        #expect(begin.status == 0 && begin.stderr.isEmpty, "\(begin)")
        let begun = try #require(try JSONSerialization.jsonObject(with: Data(begin.stdout.utf8)) as? [String: Any], "\(begin)")
        #expect(Set(begun.keys) == ["enrollment", "secret", "uri", "expires_at"])
        let enrollment = try #require(begun["enrollment"] as? String)
        let secret = try #require(begun["secret"] as? String)
        #expect(enrollment.count == 26)
        #expect(secret.count == 32 && secret.allSatisfy { "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains($0) })
        let uri = try #require(begun["uri"] as? String)
        #expect(uri.hasPrefix("otpauth://totp/") && uri.contains(":\(user.name)?secret=\(secret)&"), "\(uri)")
        #expect(uri.hasSuffix("&algorithm=SHA1&digits=6&period=30"), "\(uri)")
        let expires = try #require((begun["expires_at"] as? String).flatMap(Timestamp.init(rfc3339:)))
        #expect((started + 590...unixNow() + 610).contains(expires.unixSeconds), "enrolments wait 600 s by default")

        // A wrong code: refused, and the enrolment can still be confirmed.
        let token = EnrolledToken(user: user.name, name: "default", kind: .totp, secret: try Base32.decode(secret), recoveryCodes: [])
        let wrong = try await Programs.otpgate(
            ["enroll", "confirm", "--code", token.wrongCode(), "--json", "--socket", daemon.socketPath], stdin: enrollment + "\n",
            as: user)
        #expect(wrong.status == 1 && wrong.stdout.isEmpty, "\(wrong)")
        #expect(wrong.stderr == "otpgate: the code does not match the new token; check the app and try again\n")

        let code = try await Command.check("/usr/bin/oathtool", ["--totp", "-b", secret]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // The id from a file holding what 'enroll --json' printed; the code on stdin.
        let begunFile = NSTemporaryDirectory() + "/otpgate-begun-\(getpid()).json"
        try begin.stdout.write(toFile: begunFile, atomically: true, encoding: .utf8)
        defer { unlink(begunFile) }
        chmod(begunFile, 0o644)
        let confirm = try await Programs.otpgate(
            ["enroll", "confirm", "--enrollment-file", begunFile, "--json", "--socket", daemon.socketPath], stdin: code + "\n",
            as: user)
        #expect(confirm.status == 0 && confirm.stderr.isEmpty, "\(confirm)")
        let done = try #require(try JSONSerialization.jsonObject(with: Data(confirm.stdout.utf8)) as? [String: Any], "\(confirm)")
        #expect(Set(done.keys) == ["token", "name", "recovery_codes"])
        #expect((done["token"] as? String)?.count == 16)
        #expect(done["name"] as? String == "default")
        let codes = try #require(done["recovery_codes"] as? [String])
        #expect(codes.count == 10 && codes.allSatisfy { $0.wholeMatch(of: Self.recoveryCodePattern) != nil }, "\(codes)")

        // The user is enrolled now, and a second confirm of the same enrolment is refused.
        let status = try await daemon.admin.status(user: user.name)
        #expect(status.enrolled && status.tokens.first?.id == done["token"] as? String && status.recoveryRemaining == 10)
        let again = try await Programs.otpgate(
            ["enroll", "confirm", "--json", "--socket", daemon.socketPath], stdin: enrollment + "\n" + code + "\n", as: user)
        #expect(again.status == 1 && again.stdout.isEmpty && again.stderrLines.count == 1, "\(again)")
        #expect(again.stderr.hasPrefix("otpgate: "), "\(again)")

        // The id on the command line is refused before anything is sent.
        let argv = try await Programs.otpgate(["enroll", "confirm", enrollment, "--code", code, "--socket", daemon.socketPath], as: user)
        #expect(argv.status != 0 && argv.stderr.contains("not taken from the command line"), "\(argv)")
    }
}
