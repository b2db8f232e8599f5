import Foundation

/// Reads a service's `auth` stack from a pam.d directory as libpam does
/// (libpam/pam_handlers.c): `#` comments, `\` continuations, `[...]` tokens,
/// `@include FILE`, `auth include FILE` and `auth substack FILE` resolved in the same
/// directory, a type prefixed with `-`, and a line it cannot use turned into a
/// handler that fails.
struct PAMStackReader {
    let directory: String
    /// libpam's PAM_SUBSTACK_MAX_LEVEL.
    static let maximumDepth = 16

    struct Problem {
        let file: String
        let line: Int
        let what: String
        let fix: String
    }

    private(set) var rules: [PAMRule] = []
    private(set) var problems: [Problem] = []

    init(directory: String) {
        self.directory = directory
    }

    func path(_ name: String) -> String { name.hasPrefix("/") ? name : directory + "/" + name }

    /// Appends the `auth` rules of `name`; false when the file cannot be read.
    @discardableResult
    mutating func read(_ name: String, level: Int = 0, depth: Int = 0) -> Bool {
        let file = path(name)
        guard depth < Self.maximumDepth, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return false }
        for (number, line) in Self.logicalLines(text) {
            parse(line, file: file, number: number, level: level, depth: depth)
        }
        return true
    }

    private mutating func parse(_ line: String, file: String, number: Int, level: Int, depth: Int) {
        var tokens = Self.tokens(line)
        guard let first = tokens.first else { return }
        let squeezed = tokens.map { $0.bracketed ? "[\($0.text)]" : $0.text }.joined(separator: " ")
        func rule(_ control: PAMControl, _ kind: PAMRule.Kind) -> PAMRule {
            PAMRule(file: file, line: number, text: squeezed, control: control, kind: kind, level: level)
        }

        if first.text == "@include" {
            guard tokens.count >= 2 else {
                problems.append(Problem(file: file, line: number, what: "'@include' names no file", fix: "name the file to include, or remove the line"))
                return
            }
            if !read(tokens[1].text, level: level, depth: depth + 1) {
                rules.append(rule(.mustFail, .broken("cannot read \(path(tokens[1].text))")))
                problems.append(Problem(file: file, line: number, what: "'\(squeezed)': cannot read \(path(tokens[1].text)); PAM fails every login through this stack",
                                        fix: "create \(path(tokens[1].text)) or remove the line"))
            }
            return
        }
        tokens.removeFirst()
        var type = first.text.lowercased()
        if type.hasPrefix("-") { type.removeFirst() }
        let known = ["auth", "account", "session", "password"].contains(type)
        if known && type != "auth" { return }
        guard known else {
            // libpam installs a line of unknown type as a failing auth handler.
            rules.append(rule(.mustFail, .broken("unknown type \(first.text)")))
            problems.append(Problem(file: file, line: number, what: "'\(squeezed)': unknown type '\(first.text)'; PAM fails every login through this stack",
                                    fix: "use auth, account, session or password"))
            return
        }
        guard let controlToken = tokens.first else {
            rules.append(rule(.mustFail, .broken("no control")))
            problems.append(Problem(file: file, line: number, what: "'\(squeezed)': no control; PAM fails every login through this stack",
                                    fix: "write 'auth required MODULE'"))
            return
        }
        tokens.removeFirst()
        let word = controlToken.text.lowercased()
        if !controlToken.bracketed && (word == "include" || word == "substack") {
            guard let target = tokens.first?.text else {
                rules.append(rule(.mustFail, .broken("no file")))
                problems.append(Problem(file: file, line: number, what: "'\(squeezed)': names no file; PAM fails every login through this stack",
                                        fix: "name the file, or remove the line"))
                return
            }
            let substack = word == "substack"
            if substack { rules.append(rule(.mustFail, .substack(target))) }
            let before = rules.count
            if !read(target, level: level + (substack ? 1 : 0), depth: depth + 1) {
                rules.removeSubrange(before...)
                rules.append(rule(.mustFail, .broken("cannot read \(path(target))")))
                problems.append(Problem(file: file, line: number, what: "'\(squeezed)': cannot read \(path(target)); PAM fails every login through this stack",
                                        fix: "create \(path(target)) or remove the line"))
            }
            return
        }
        let control = PAMControl(controlToken.text, bracketed: controlToken.bracketed) ?? .mustFail
        if control.malformed {
            problems.append(Problem(file: file, line: number, what: "'\(squeezed)': PAM cannot parse the control '\(controlToken.text)' and fails every login through this stack",
                                    fix: "use required, requisite or a [value=action ...] form from pam.d(5)"))
        }
        guard let module = tokens.first else {
            rules.append(rule(.mustFail, .broken("no module")))
            problems.append(Problem(file: file, line: number, what: "'\(squeezed)': no module; PAM fails every login through this stack",
                                    fix: "name the module"))
            return
        }
        rules.append(rule(control, .module(path: module.text, arguments: tokens.dropFirst().map(\.text))))
    }

    /// The file's lines without comments, continuations joined, blank ones dropped,
    /// each with the number of the line it starts on.
    static func logicalLines(_ text: String) -> [(Int, String)] {
        var result: [(Int, String)] = []
        var pending = ""
        var start = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(raw)
            if let hash = line.firstIndex(of: "#") { line = String(line[..<hash]) }
            if pending.isEmpty { start = index + 1 }
            if line.hasSuffix("\\") {
                pending += line.dropLast() + " "
                continue
            }
            pending += line
            if !pending.trimmingCharacters(in: .whitespaces).isEmpty { result.append((start, pending)) }
            pending = ""
        }
        if !pending.trimmingCharacters(in: .whitespaces).isEmpty { result.append((start, pending)) }
        return result
    }

    struct Token {
        let text: String
        let bracketed: Bool
    }

    /// White-space separated words; `[...]` is one word (without the brackets) in which
    /// `\]` stands for `]`.
    static func tokens(_ line: String) -> [Token] {
        var tokens: [Token] = []
        var chars = Array(line)[...]
        while let c = chars.first {
            if c == " " || c == "\t" || c == "\r" {
                chars.removeFirst()
                continue
            }
            if c == "[" {
                chars.removeFirst()
                var text = ""
                while let d = chars.first, d != "]" {
                    chars.removeFirst()
                    if d == "\\", chars.first == "]" {
                        text.append(chars.removeFirst())
                    } else {
                        text.append(d)
                    }
                }
                if !chars.isEmpty { chars.removeFirst() }
                tokens.append(Token(text: text, bracketed: true))
            } else {
                var text = ""
                while let d = chars.first, d != " " && d != "\t" && d != "\r" {
                    text.append(chars.removeFirst())
                }
                tokens.append(Token(text: text, bracketed: false))
            }
        }
        return tokens
    }
}
