import Foundation
import OTPCore
import OTPGateProtocol

/// A token a test enrolled, with its secret, so the test can compute its codes as an
/// authenticator app would (SHA1, 6 digits, 30 s steps for TOTP).
struct EnrolledToken: Sendable {
    let user: String
    let name: String
    let kind: TokenKind
    let secret: [UInt8]
    /// Empty when the user already had recovery codes.
    let recoveryCodes: [String]

    /// The code of a HOTP counter or a TOTP time step.
    func code(_ counter: UInt64) -> String {
        HOTP.codeString(secret: secret, counter: counter)
    }

    /// The TOTP time step now.
    static var currentStep: UInt64 { UInt64(Date().timeIntervalSince1970) / 30 }

    /// A well-formed code that the daemon cannot accept now: none of the HOTP counters
    /// up to 100 (past any look-ahead) and none of the TOTP steps near now.
    func wrongCode() -> String {
        let counters: ClosedRange<UInt64> = kind == .hotp ? 0...100 : (Self.currentStep - 3)...(Self.currentStep + 3)
        let taken = Set(counters.map(code))
        return (0..<1000).lazy.map { String(format: "%06d", $0 * 997 % 1_000_000) }.first { !taken.contains($0) }!
    }
}
