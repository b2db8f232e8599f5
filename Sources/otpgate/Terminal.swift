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

    /// Whether standard output is a terminal (and so takes colours and has a size).
    static var outputIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    /// Rows and columns of the terminal on standard output, nil if it is none.
    static var windowSize: (rows: Int, columns: Int)? {
        var size = winsize()
        guard outputIsTerminal, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 else {
            return nil
        }
        return (Int(size.ws_row), Int(size.ws_col))
    }

    /// Whether the terminal itself shows UTF-8, whatever the locale says: in the POSIX
    /// locale (what 'su -' gives) the terminal usually still does. Writes "é" (two
    /// bytes in UTF-8, each a printable Latin-1 character) at the start of the line
    /// and asks for the cursor position (ECMA-48 DSR 6): a UTF-8 terminal has moved
    /// one column, a Latin-1 one two. The line is cleared afterwards. A terminal that
    /// does not answer within `timeout` milliseconds counts as not UTF-8.
    static func probeUTF8(timeout: Int32 = 3000) -> Bool {
        let env = ProcessInfo.processInfo.environment
        guard isInteractive, outputIsTerminal, let term = env["TERM"], !term.isEmpty, term != "dumb" else { return false }
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var old = termios()
        guard tcgetattr(fd, &old) == 0 else { return false }
        var raw = old
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        guard tcsetattr(fd, TCSANOW, &raw) == 0 else { return false }
        defer { tcsetattr(fd, TCSANOW, &old) }
        let probe: [UInt8] = [0x0D, 0xC3, 0xA9, 0x1B, 0x5B, 0x36, 0x6E]  // \r é ESC [ 6 n
        guard probe.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == probe.count else { return false }
        defer { _ = "\r\u{1B}[K".withCString { Glibc.write(fd, $0, strlen($0)) } }
        // The answer: ESC [ row ; column R.
        var answer: [UInt8] = []
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let end = Int64(deadline.tv_sec) * 1000 + Int64(deadline.tv_nsec) / 1_000_000 + Int64(timeout)
        while answer.last != UInt8(ascii: "R") && answer.count < 32 {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let left = end - (Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000)
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard left > 0, poll(&pfd, 1, Int32(left)) == 1 else { return false }
            var byte: UInt8 = 0
            guard read(fd, &byte, 1) == 1 else { return false }
            answer.append(byte)
        }
        let text = String(decoding: answer, as: UTF8.self)
        guard let semicolon = text.lastIndex(of: ";"), text.hasSuffix("R") else { return false }
        return Int(text[text.index(after: semicolon)..<text.index(before: text.endIndex)]) == 2
    }
}
