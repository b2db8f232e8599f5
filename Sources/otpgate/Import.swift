import ArgumentParser
import Foundation
import Glibc
import OTPGateImport
import OTPGateProtocol

extension Admin {
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import tokens from google-authenticator, pam_oath, authenticator exports or PSKC seed files.",
            discussion: """
                Each user is imported in one transaction and audited (token.imported, with the
                source). A user who already has tokens is skipped unless --replace or --add is
                given. --dry-run shows the same report and changes nothing. Every line that
                cannot be mapped is reported as FILE:LINE with the reason; secrets shorter than
                128 bits are imported with a warning, under 80 bits refused. The source files
                are only read, never changed: retire them once logins work (docs/OPERATIONS.md).
                Exit status 1 when anything was refused.
                """,
            subcommands: [GoogleAuthenticator.self, Oath.self, OTPAuth.self, PSKC.self])
    }
}

extension Admin.Import {
    struct GoogleAuthenticator: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "google-authenticator",
            abstract: "Import ~/.google_authenticator files (TOTP or HOTP, scratch codes, skew, reuse state).",
            discussion: """
                Name users, or give --all-users; each user's file is found with --path (default
                ~/.google_authenticator; ~, ${HOME} and ${USER} as in pam_google_authenticator's
                secret= option). --file USER=PATH names one file directly. Files are read as
                pam_google_authenticator reads them; a file that is a symbolic link, not a
                regular file (a FIFO), not owned by the user (or --owner), writable by group or
                others, or over 64 KiB is refused with the reason.
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: ImportOptions
        @Argument(help: "Users whose file to import.")
        var users: [String] = []
        @Flag(name: .long, help: "Every user in the password database who has a file.")
        var allUsers = false
        @Option(name: .long, help: "Where each user's file is (pam_google_authenticator's secret=).")
        var path = "~/.google_authenticator"
        @Option(name: .long, help: "USER=PATH: this user's file, wherever it is (repeatable).")
        var file: [String] = []
        @Option(name: .long, help: "The files belong to this user, not to each user (pam_google_authenticator's user=).")
        var owner: String?

        func validate() throws {
            if users.isEmpty && !allUsers && file.isEmpty { throw ValidationError("name users, --all-users or --file USER=PATH") }
            if allUsers && !users.isEmpty { throw ValidationError("--all-users and named users exclude each other") }
            for f in file where !f.contains("=") { throw ValidationError("--file takes USER=PATH") }
        }

        func run() async throws {
            var fixedOwner: (uid: UInt32, name: String)?
            if let owner {
                guard let pw = getpwnam(owner) else { throw Failure.exit("no such user: \(owner)", status: Failure.refused) }
                fixedOwner = (pw.pointee.pw_uid, owner)
            }
            var targets: [(user: String, path: String, owner: (uid: UInt32, name: String)?)] = []
            var issues: [ImportIssue] = []
            for f in file {
                let user = String(f.prefix { $0 != "=" })
                let path = String(f.drop { $0 != "=" }.dropFirst())
                let account = SystemAccount(user)
                targets.append((user, path, fixedOwner ?? account.map { ($0.uid, user) }))
                if account == nil && fixedOwner == nil {
                    issues.append(ImportIssue(.error, file: path, "user \(user) is not in the password database, so the file's owner cannot be checked"))
                    targets.removeLast()
                }
            }
            let names = allUsers ? SystemAccount.all().map(\.name) : users
            for user in names {
                guard let account = SystemAccount(user) else {
                    issues.append(ImportIssue(.error, file: path, "user \(user) is not in the password database"))
                    continue
                }
                let p = SecretFile.expand(path, user: user, home: account.home)
                // With --all-users, users without a file are simply not using it.
                if allUsers, access(p, F_OK) != 0, errno == ENOENT { continue }
                targets.append((user, p, fixedOwner ?? (account.uid, user)))
            }
            var parsed: [ImportedUser] = []
            for t in targets {
                switch SecretFile.read(t.path, owner: t.owner) {
                case .failure(let issue):
                    parsed.append(ImportedUser(user: t.user, source: "\(GoogleAuthenticatorFile.tool) \(t.path)", issues: [issue]))
                case .success(let read):
                    var u = GoogleAuthenticatorFile.parse(read.bytes, file: t.path, user: t.user)
                    u.issues = read.issues + u.issues
                    parsed.append(u)
                }
            }
            try await ImportReport.run(parsed, issues: issues, options: options, global: global)
        }
    }

    struct Oath: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import pam_oath's usersfile (usually /etc/users.oath).",
            discussion: """
                Token types HOTP, HOTP/E[/6|7|8], HOTP/T30[/6|7|8], HOTP/T60[/6|7|8]; several
                tokens per user; counters and last OTPs as liboath keeps them (the next code is
                the one after the last accepted). PIN '-' and '+' import; a line with a static
                PIN is refused (importing the key alone would drop a factor). The file must
                belong to root and not be writable by group or others.
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: ImportOptions
        @Argument(help: "The usersfile.")
        var file: String
        @Option(name: .long, help: "Only these users (repeatable).")
        var user: [String] = []

        func run() async throws {
            let read: SecretFile.Read
            switch SecretFile.read(file, owner: (0, "root")) {
            case .failure(let issue): return try await ImportReport.run([], issues: [issue], options: options, global: global)
            case .success(let r): read = r
            }
            var (users, issues) = OathUsersFile.parse(read.bytes, file: file)
            issues = read.issues + issues
            if !user.isEmpty { users = users.filter { user.contains($0.user) } }
            try await ImportReport.run(users, issues: issues, options: options, global: global)
        }
    }

    struct OTPAuth: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "otpauth",
            abstract: "Import otpauth:// URIs or Google Authenticator exports (otpauth-migration://) for one user.",
            discussion: """
                Reads one URI per line from FILE, or from standard input with '-' (for example
                'zbarimg --raw export.png | otpgate admin import otpauth --user alice -').
                URIs are never taken from the command line, where any process can read them.
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: ImportOptions
        @Option(name: .long, help: "The user the tokens belong to.")
        var user: String
        @Argument(help: "A file of URIs, or - for standard input.")
        var file: String

        func run() async throws {
            let bytes: [UInt8]
            let name: String
            if file == "-" {
                bytes = Array(FileHandle.standardInput.readDataToEndOfFile().prefix(SecretFile.defaultMaxBytes + 1))
                name = "<stdin>"
                guard bytes.count <= SecretFile.defaultMaxBytes else {
                    return try await ImportReport.run([], issues: [ImportIssue(.error, file: name, "more than 64 KiB")], options: options, global: global)
                }
            } else {
                // Any owner (a user may hand over their own export), but no symlink,
                // FIFO or file others could have written.
                switch SecretFile.read(file, owner: nil) {
                case .failure(let issue): return try await ImportReport.run([], issues: [issue], options: options, global: global)
                case .success(let r): bytes = r.bytes
                }
                name = file
            }
            try await ImportReport.run([OTPAuthImport.parse(bytes, file: name, user: user)], issues: [], options: options, global: global)
        }
    }

    struct PSKC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pskc",
            abstract: "Import hardware-token seeds from an RFC 6030 PSKC file: plain, pre-shared AES key or PBKDF2 password.",
            discussion: """
                --map SERIAL=USER says whose each token is (by the device's SerialNo, or the
                key's Id); unmapped tokens are reported and skipped. --key-file holds the
                pre-shared key in hex (32 hex digits for AES-128), --password-file the password
                of a PBKDF2-protected file; neither may be readable by group or others.
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: ImportOptions
        @Argument(help: "The PSKC file.")
        var file: String
        @Option(name: .long, help: "SERIAL=USER (repeatable).")
        var map: [String] = []
        @Option(name: .long, help: "A file with the pre-shared key in hex.")
        var keyFile: String?
        @Option(name: .long, help: "A file with the password a PBKDF2-protected file was made with (its first line).")
        var passwordFile: String?

        func validate() throws {
            for m in map where !m.contains("=") { throw ValidationError("--map takes SERIAL=USER") }
        }

        func run() async throws {
            var key: [UInt8]?
            if let keyFile {
                switch SecretFile.read(keyFile, owner: (geteuid(), "you"), maxBytes: 1024) {
                case .failure(let issue): return try await ImportReport.run([], issues: [issue], options: options, global: global)
                case .success(let r):
                    guard r.mode & 0o044 == 0 else {
                        throw Failure.exit("\(keyFile): readable by group or others; chmod 600 it", status: Failure.refused)
                    }
                    let hex = String(decoding: r.bytes, as: UTF8.self).filter { !$0.isWhitespace }
                    guard let k = Hex.decode(hex), [16, 24, 32].contains(k.count) else {
                        throw Failure.exit("\(keyFile): not an AES key in hex (32, 48 or 64 hex digits)", status: Failure.refused)
                    }
                    key = k
                }
            }
            var password: [UInt8]?
            if let passwordFile {
                switch SecretFile.read(passwordFile, owner: (geteuid(), "you"), maxBytes: 1024) {
                case .failure(let issue): return try await ImportReport.run([], issues: [issue], options: options, global: global)
                case .success(let r):
                    guard r.mode & 0o044 == 0 else {
                        throw Failure.exit("\(passwordFile): readable by group or others; chmod 600 it", status: Failure.refused)
                    }
                    password = Array(r.bytes.prefix { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") })
                }
            }
            var users: [String: String] = [:]
            for m in map { users[String(m.prefix { $0 != "=" })] = String(m.drop { $0 != "=" }.dropFirst()) }
            let read: SecretFile.Read
            switch SecretFile.read(file, owner: nil) {
            case .failure(let issue): return try await ImportReport.run([], issues: [issue], options: options, global: global)
            case .success(let r): read = r
            }
            let (parsed, issues) = PSKCFile.parse(read.bytes, file: file, preSharedKey: key, password: password, users: users)
            try await ImportReport.run(parsed, issues: read.issues + issues, options: options, global: global)
        }
    }
}

/// A user from the password database.
struct SystemAccount {
    let name: String
    let uid: UInt32
    let home: String

    init?(_ name: String) {
        guard let pw = getpwnam(name), let dir = pw.pointee.pw_dir else { return nil }
        self.name = name
        uid = pw.pointee.pw_uid
        home = String(cString: dir)
    }

    private init(name: String, uid: UInt32, home: String) {
        self.name = name
        self.uid = uid
        self.home = home
    }

    static func all() -> [SystemAccount] {
        var out: [SystemAccount] = []
        setpwent()
        defer { endpwent() }
        while let pw = getpwent() {
            guard let n = pw.pointee.pw_name, let d = pw.pointee.pw_dir else { continue }
            out.append(SystemAccount(name: String(cString: n), uid: pw.pointee.pw_uid, home: String(cString: d)))
        }
        return out
    }
}
