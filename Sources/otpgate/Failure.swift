import ArgumentParser
import Foundation
import OTPGateClient
import OTPGateProtocol

/// How a command ends when it cannot do its job: one line on stderr and an exit
/// status from the table in `otpgate --help`.
enum Failure {
    static let refused: Int32 = 1
    static let limited: Int32 = 2
    static let unreachable: Int32 = 3
    static let doctorFound: Int32 = 4

    /// Prints `message` as one line and returns the exit code to throw.
    static func exit(_ message: String, status: Int32) -> ExitCode {
        FileHandle.standardError.write(Data("otpgate: \(message)\n".utf8))
        return ExitCode(status)
    }

    static func exit(_ error: OTPGateClientError) -> ExitCode {
        if error.code == .permissionDenied {
            // The daemon is there; this caller may not use that socket (the admin socket
            // as a user): a refusal like `forbidden`, not "the daemon is down".
            return exit(error.message, status: refused)
        }
        if error.isUnavailable || error.code == .cancelled { return exit(error.message, status: unreachable) }
        if error.code == .daemon(.rateLimited) { return exit(error.message, status: limited) }
        return exit(error.message, status: refused)
    }
}

/// Runs a client call; a failure ends the command with its line and exit status.
func call<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as OTPGateClientError {
        throw Failure.exit(error)
    }
}
