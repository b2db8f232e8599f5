import Foundation
import Glibc

/// Reading from the person at the terminal. Secrets and codes are read without echo
/// when standard input is a terminal, and as plain lines when it is not (scripts).
enum Terminal {
    static var isInteractive: Bool { isatty(STDIN_FILENO) == 1 }

    static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// One line from standard input, without its newline; nil at end of input.
    static func readLine(prompt: String) -> String? {
        if isInteractive { write(prompt) }
        return Swift.readLine(strippingNewline: true)
    }

    /// Like `readLine`, with echo off on a terminal.
    static func readSecret(prompt: String) -> String? {
        guard isInteractive else { return Swift.readLine(strippingNewline: true) }
        var old = termios()
        tcgetattr(STDIN_FILENO, &old)
        var quiet = old
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &old)
            write("\n")
        }
        write(prompt)
        return Swift.readLine(strippingNewline: true)
    }

    static func confirm(_ question: String) -> Bool {
        guard let answer = readLine(prompt: question + " [y/N] ") else { return false }
        return ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased())
    }

    /// The login name of the calling user.
    static var currentUser: String? {
        guard let pw = getpwuid(getuid()), let name = pw.pointee.pw_name else { return nil }
        return String(cString: name)
    }

    /// Whether text output may use UTF-8 block characters.
    static var supportsUTF8: Bool {
        let env = ProcessInfo.processInfo.environment
        let locale = env["LC_ALL"] ?? env["LC_CTYPE"] ?? env["LANG"] ?? ""
        return locale.uppercased().contains("UTF-8") || locale.uppercased().contains("UTF8")
    }
}
