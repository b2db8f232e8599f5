import ArgumentParser
import Foundation
import Glibc
import OTPCore
import OTPGateClient
import OTPGateProtocol

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add a token: scan a QR code with an authenticator app, confirm with its first code.",
        subcommands: [Start.self, Confirm.self, Cancel.self],
        defaultSubcommand: Start.self)
}

extension Enroll {
    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "start",
            abstract: "Enrol interactively (the default), or with --json print the new secret for a script.")

        @OptionGroup var global: GlobalOptions

        @Option(help: "The token's name (default: 'default', then token2, ...).")
        var name: String?
        @Flag(help: "A counter-based HOTP token instead of TOTP.")
        var hotp = false
        @Option(help: "SHA1, SHA256 or SHA512 (SHA1 is what every app supports).")
        var algorithm: String = "SHA1"
        @Option(help: "Digits per code, 6 to 8.")
        var digits: Int = 6
        @Option(help: "Seconds per TOTP code.")
        var period: Int = 30
        @Flag(name: .customLong("show-uri"), help: "Also print the otpauth:// URI (it contains the secret).")
        var showURI = false
        @Option(name: .customLong("qr-svg"), help: "Also write the QR code as SVG to this file (mode 0600).")
        var qrSVG: String?
        @Flag(help: "Draw the QR code in plain ASCII (needs about 100 columns).")
        var ascii = false
        @Option(help: "First codes to try before giving up.")
        var tries: Int = 3
        @Option(help: "Enrol this user instead of yourself (admins, on the admin socket).")
        var user: String?

        func validate() throws {
            guard (6...8).contains(digits) else { throw ValidationError("--digits must be 6, 7 or 8") }
            guard (1...86_400).contains(period) else { throw ValidationError("--period must be 1 to 86400 seconds") }
            guard tries >= 1 else { throw ValidationError("--tries must be at least 1") }
            guard TokenAlgorithm(rawValue: algorithm.uppercased()) != nil else {
                throw ValidationError("--algorithm must be SHA1, SHA256 or SHA512")
            }
        }

        func run() async throws {
            guard let user = user ?? Terminal.currentUser else { throw Failure.exit("cannot tell who you are", status: 1) }
            let client = global.client(admin: global.socket == nil && self.user != nil)
            var code: String?
            let status = try await call { try await client.status(user: user) }
            if status.enrolled && self.user == nil {
                guard !global.json || !Terminal.isInteractive else {
                    throw Failure.exit("you already have a token; give a current code on standard input", status: 1)
                }
                code = Terminal.readSecret(prompt: "You already have a token. Current code: ")
            }
            let request = EnrollBeginRequest(
                user: user, name: name, kind: hotp ? .hotp : .totp, algorithm: TokenAlgorithm(rawValue: algorithm.uppercased()),
                digits: digits,
                period: hotp ? nil : period, code: code)
            let begun = try await call { try await client.enrollBegin(request) }
            if let path = qrSVG {
                guard let qr = QRCode(encoding: begun.uri) else { throw Failure.exit("could not draw the QR code", status: 1) }
                try writePrivate(qr.svg(), to: path)
            }
            if global.json {
                Output.json(begun)
                return
            }
            show(begun)
            for attempt in 1...tries {
                guard let typed = Terminal.readSecret(prompt: "Code shown by the app: "), !typed.isEmpty else {
                    try? await client.enrollCancel(user: user, enrollment: begun.enrollment)
                    throw Failure.exit("no code given; nothing was enrolled", status: 1)
                }
                do {
                    let done = try await client.enrollConfirm(user: user, enrollment: begun.enrollment, code: typed)
                    print("Token '\(done.name)' is active.")
                    if let codes = done.recoveryCodes { showRecoveryCodes(codes) }
                    return
                } catch let error as OTPGateClientError {
                    guard error.code == .daemon(.invalidCode) && attempt < tries else {
                        // Leave no pending enrolment behind (five of them block the next one).
                        try? await client.enrollCancel(user: user, enrollment: begun.enrollment)
                        throw Failure.exit(error)
                    }
                    Terminal.write("That code does not match; check the app's clock and try the next code.\n")
                }
            }
        }

        func show(_ begun: EnrollBeginResult) {
            let secret = (try? Base32.decode(begun.secret)).map(OTPSecret.grouped) ?? begun.secret
            let utf8 = !ascii && (Terminal.supportsUTF8 || Terminal.probeUTF8())
            let screen = EnrollScreen(
                uri: begun.uri, key: secret,
                parameters: "(\(hotp ? "counter-based" : "time-based"), \(algorithm.uppercased()), \(digits) digits\(hotp ? "" : ", \(period) s"))",
                showURI: showURI, style: utf8 ? .halfBlocks : .ascii, window: Terminal.windowSize,
                colored: Terminal.outputIsTerminal)
            print(screen.text, terminator: "")
            fflush(nil)  // all of stdout, since the prompt (on stderr) may follow on the same line
        }
    }

    struct Confirm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Confirm an enrolment begun with 'otpgate enroll --json' (for scripts).",
            discussion: """
                The enrolment id is read from --enrollment-file (the id alone, or the JSON that \
                'otpgate enroll --json' printed) or else from the first line of standard input; \
                the code from --code or else the next line. Never put the id on the command \
                line: every local user can read a command line in /proc. For example (the \
                JSON holds the new secret, so keep the file private):
                  (umask 077; otpgate enroll --json > begun.json)
                  otpgate enroll confirm --enrollment-file begun.json
                  printf '%s\\n%s\\n' "$ID" "$CODE" | otpgate enroll confirm
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("No longer accepted: see --enrollment-file.", visibility: .hidden))
        var enrollmentArgument: String?
        @Option(
            name: .customLong("enrollment-file"),
            help: "A file holding the enrolment id, or the JSON printed by 'otpgate enroll --json'.")
        var enrollmentFile: String?
        @Option(help: "The first code. Scriptable mode: a code on the command line is visible to other local users in the process list; without --code it is read from standard input.")
        var code: String?
        @Option(help: "The user (default: yourself).")
        var user: String?

        func validate() throws {
            guard enrollmentArgument == nil else {
                throw ValidationError(
                    "the enrolment id is not taken from the command line (other local users can read it there): give it on standard input or with --enrollment-file")
            }
        }

        func run() async throws {
            guard let user = user ?? Terminal.currentUser else { throw Failure.exit("cannot tell who you are", status: 1) }
            let enrollment = try readEnrollment()
            guard let code = code ?? Terminal.readSecret(prompt: "Code shown by the app: ") else {
                throw Failure.exit("no code given", status: 1)
            }
            let client = global.client(admin: global.socket == nil && self.user != nil)
            let done = try await call {
                try await client.enrollConfirm(user: user, enrollment: enrollment, code: code)
            }
            if global.json {
                Output.json(done)
            } else {
                print("Token '\(done.name)' is active.")
                if let codes = done.recoveryCodes { showRecoveryCodes(codes) }
            }
        }

        /// The id from the file (bare, or `enroll --json` output) or from stdin's first line.
        func readEnrollment() throws -> String {
            let text: String
            if let path = enrollmentFile {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw Failure.exit("cannot read \(path)", status: 1)
                }
                text = String(decoding: data, as: UTF8.self)
            } else {
                guard let line = Terminal.readLine(prompt: "Enrolment id: ") else {
                    throw Failure.exit("no enrolment id given (on standard input or with --enrollment-file)", status: 1)
                }
                text = line
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.hasPrefix("{") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any],
                    let id = object["enrollment"] as? String
                else { throw Failure.exit("\(enrollmentFile ?? "standard input") has no \"enrollment\" field", status: 1) }
                return id
            }
            guard !trimmed.isEmpty, !trimmed.contains(where: \.isWhitespace) else {
                throw Failure.exit("no enrolment id given (on standard input or with --enrollment-file)", status: 1)
            }
            return trimmed
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel an unconfirmed enrolment.")
        @OptionGroup var global: GlobalOptions
        @Argument var enrollment: String
        @Option(help: "The user (default: yourself).")
        var user: String?

        func run() async throws {
            guard let user = user ?? Terminal.currentUser else { throw Failure.exit("cannot tell who you are", status: 1) }
            let client = global.client(admin: global.socket == nil && self.user != nil)
            try await call { try await client.enrollCancel(user: user, enrollment: enrollment) }
            if !global.json { print("Enrolment cancelled.") } else { Output.json(["cancelled": enrollment]) }
        }
    }
}

func showRecoveryCodes(_ codes: [String]) {
    print("""

        Recovery codes: each works once, when your phone is not at hand. They are shown
        only now: store them somewhere safe, away from this machine.

        """)
    for pair in stride(from: 0, to: codes.count, by: 2) {
        print("    " + codes[pair..<min(pair + 2, codes.count)].joined(separator: "    "))
    }
    print("")
}

/// Writes a file that only the caller can read (it may carry the secret).
func writePrivate(_ text: String, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw Failure.exit("cannot write \(path): \(String(cString: strerror(errno)))", status: 1) }
    defer { close(fd) }
    fchmod(fd, 0o600)
    let bytes = Array(text.utf8)
    guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
        throw Failure.exit("cannot write \(path)", status: 1)
    }
}
