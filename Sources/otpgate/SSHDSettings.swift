import Foundation

/// sshd's effective settings, from `sshd -T` (which applies the defaults, Include
/// files and the first-value-wins rule), for the global scope (Match blocks are not
/// evaluated without -C).
struct SSHDSettings {
    /// Lower-case keyword to value, as sshd -T prints them.
    let values: [String: String]
    /// The config file read (sshd's own default when nil).
    let configFile: String?
    /// The file's own text, to point at the line that sets a keyword.
    private let lines: [Substring]

    /// Runs `sshd -T [-f FILE]`; nil and sshd's message when it cannot.
    static func read(sshd: String, configFile: String?) -> (SSHDSettings?, String) {
        guard FileManager.default.isExecutableFile(atPath: sshd) else { return (nil, "\(sshd) not found") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: sshd)
        process.arguments = ["-T"] + (configFile.map { ["-f", $0] } ?? [])
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return (nil, "cannot run \(sshd): \(error)")
        }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let first = message.split(separator: "\n").first.map(String.init) ?? "exit \(process.terminationStatus)"
            return (nil, "'\(sshd) -T\(configFile.map { " -f \($0)" } ?? "")' failed: \(first)")
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].lowercased()
            if values[key] == nil { values[key] = String(parts[1]) }
        }
        let file = configFile ?? "/etc/ssh/sshd_config"
        let own = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        return (SSHDSettings(values: values, configFile: file, lines: own.split(separator: "\n", omittingEmptySubsequences: false)), "")
    }

    func yes(_ key: String) -> Bool { values[key]?.lowercased() == "yes" }

    /// The line of the config file that sets `key` first (sshd takes the first), if any.
    func line(of key: String) -> Int? {
        lines.firstIndex { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "=" })
            return words.first?.lowercased() == key
        }.map { $0 + 1 }
    }

    /// Whether the file has Match blocks, which `sshd -T` without -C does not apply.
    var hasMatchBlocks: Bool {
        lines.contains { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).first?.lowercased() == "match" }
    }

    /// The AuthenticationMethods alternatives (each a list of methods that must all
    /// pass); for `any`, each enabled method alone.
    var alternatives: [[String]] {
        let methods = values["authenticationmethods"] ?? "any"
        if methods.lowercased() == "any" {
            var single: [[String]] = []
            if yes("pubkeyauthentication") { single.append(["publickey"]) }
            if yes("passwordauthentication") { single.append(["password"]) }
            if yes("kbdinteractiveauthentication") { single.append(["keyboard-interactive"]) }
            if yes("hostbasedauthentication") { single.append(["hostbased"]) }
            if yes("gssapiauthentication") { single.append(["gssapi-with-mic"]) }
            return single
        }
        return methods.split(separator: " ").map { $0.split(separator: ",").map(String.init) }
    }

    /// Whether sshd offers a method (an alternative with a method it does not offer
    /// can never complete).
    func offers(_ method: String) -> Bool {
        switch method.split(separator: ":").first.map(String.init) ?? method {
        case "publickey": yes("pubkeyauthentication")
        case "password": yes("passwordauthentication")
        case "keyboard-interactive": yes("kbdinteractiveauthentication")
        case "hostbased": yes("hostbasedauthentication")
        case "gssapi-with-mic": yes("gssapiauthentication")
        default: false
        }
    }
}
