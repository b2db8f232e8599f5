import OTPCore

/// A token a test enrolled, with its secret, so the test can compute any code of it
/// as an authenticator app would.
struct EnrolledToken {
    let user: String
    let id: String
    let name: String
    let kind: String
    let secret: [UInt8]
    let algorithm: OTPAlgorithm
    let digits: Int
    let period: Int64
    /// The counter (HOTP) or time step (TOTP) whose code confirmed the enrolment.
    let confirmedCounter: UInt64
    /// Empty when the user already had recovery codes.
    let recoveryCodes: [String]

    /// The code for a HOTP counter or a TOTP time step.
    func code(_ counter: UInt64) -> String {
        HOTP.codeString(secret: secret, counter: counter, algorithm: algorithm, digits: digits)
    }

    /// A well-formed code that matches none of `counters`.
    func wrongCode(avoiding counters: ClosedRange<UInt64>) -> String {
        let taken = Set(counters.map(code))
        return (0..<10_000).lazy.map { n in
            let s = String(n)
            return String(repeating: "0", count: digits - s.count) + s
        }.first { !taken.contains($0) }!
    }
}
