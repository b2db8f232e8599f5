import ArgumentParser
import Foundation

extension OTPGateCommand {
    /// ArgumentParser's `main`, except that a command-line error is reported like every
    /// other failure: one line on stderr, `otpgate: <what>` with where to read more, and
    /// exit status 64. (ArgumentParser would print "Error: ..." plus the usage synopsis
    /// and, for a missing argument, a "Help:" line.)
    static func main() async {
        do {
            var command = try await asyncParseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let status = exitCode(for: error)
            // Help, --version and our own ExitCode failures (already reported) go the usual way.
            guard status != .success, !(error is ExitCode) else { exit(withError: error) }
            FileHandle.standardError.write(Data("otpgate: \(oneLine(error))\n".utf8))
            exit(withError: status)
        }
    }

    /// "unknown option '--bogus' (see 'otpgate status --help')".
    private static func oneLine(_ error: any Error) -> String {
        var text = message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid command line"
        if let first = text.first, first.isUppercase, text.dropFirst().first?.isLowercase == true {
            text = first.lowercased() + text.dropFirst()
        }
        // The full message ends with "See 'otpgate SUBCOMMAND --help' for more information."
        let full = fullMessage(for: error)
        if let see = full.range(of: "See '"), let end = full[see.upperBound...].firstIndex(of: "'") {
            text += " (see '\(full[see.upperBound..<end])')"
        }
        return text
    }
}
