import Foundation
package import OTPCore
package import OTPGateProtocol

/// A token a test enrolled, with its secret, so the test can compute any code of it
/// as an authenticator app would.
package struct EnrolledToken: Sendable {
    package let user: String
    /// The token's id ("" where the test did not learn it).
    package let id: String
    package let name: String
    package let kind: TokenKind
    package let secret: [UInt8]
    package let algorithm: OTPAlgorithm
    package let digits: Int
    package let period: Int64
    /// The counter (HOTP) or time step (TOTP) whose code confirmed the enrolment.
    package let confirmedCounter: UInt64
    /// Empty when the user already had recovery codes.
    package let recoveryCodes: [String]

    package init(
        user: String, id: String = "", name: String, kind: TokenKind, secret: [UInt8], algorithm: OTPAlgorithm = .sha1,
        digits: Int = 6, period: Int64 = 30, confirmedCounter: UInt64 = 0, recoveryCodes: [String] = []
    ) {
        self.user = user
        self.id = id
        self.name = name
        self.kind = kind
        self.secret = secret
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
        self.confirmedCounter = confirmedCounter
        self.recoveryCodes = recoveryCodes
    }

    /// The code for a HOTP counter or a TOTP time step.
    package func code(_ counter: UInt64) -> String {
        HOTP.codeString(secret: secret, counter: counter, algorithm: algorithm, digits: digits)
    }

    /// The TOTP time step now, for `period` (30 s by default).
    package static func currentStep(period: Int64 = 30) -> UInt64 {
        UInt64(Int64(Date().timeIntervalSince1970) / period)
    }

    /// The TOTP time step now, for this token's period.
    package var currentStep: UInt64 { Self.currentStep(period: period) }

    /// A well-formed code that matches none of `counters`.
    package func wrongCode(avoiding counters: ClosedRange<UInt64>) -> String {
        let taken = Set(counters.map(code))
        return (0..<10_000).lazy.map { n in
            let s = String(n)
            return String(repeating: "0", count: digits - s.count) + s
        }.first { !taken.contains($0) }!
    }

    /// A well-formed code that the daemon cannot accept now: none of the HOTP counters
    /// up to 100 (past any look-ahead) and none of the TOTP steps near now.
    package func wrongCode() -> String {
        wrongCode(avoiding: kind == .hotp ? 0...100 : (currentStep - 3)...(currentStep + 3))
    }
}
