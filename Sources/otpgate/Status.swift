import ArgumentParser
import OTPGateClient
import OTPGateProtocol

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show your tokens and recovery codes left.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Another user (needs root or the verify group, or the admin socket).")
    var user: String?

    func run() async throws {
        guard let user = user ?? Terminal.currentUser else { throw Failure.exit("cannot tell who you are", status: 1) }
        let client = global.client()
        let status = try await call { try await client.status(user: user) }
        if global.json {
            Output.json(status)
        } else {
            printStatus(status)
        }
    }
}

func printStatus(_ s: StatusResult) {
    print("user:               \(s.user)")
    print("enrolled:           \(s.enrolled ? "yes" : "no")\(s.required ? " (required)" : "")")
    print("recovery codes:     \(s.recoveryRemaining) left")
    if let scratch = s.scratchRemaining { print("scratch codes:      \(scratch) left (imported from google-authenticator)") }
    if let wait = s.retryAfter { print("rate limited:       wait \(wait) s") }
    if !s.pendingEnrollments.isEmpty { print("pending enrolments: \(s.pendingEnrollments.count)") }
    if !s.tokens.isEmpty {
        print("")
        Output.table(
            ["NAME", "KIND", "ALGORITHM", "DIGITS", "PERIOD", "CREATED", "LAST USED"],
            s.tokens.map { t in
                [t.name, t.kind.rawValue, t.algorithm.rawValue, "\(t.digits)", t.period.map { "\($0)s" } ?? "-",
                 Output.time(t.createdAt), Output.time(t.lastUsedAt)]
            })
    }
    // Clock drift, for the tokens that have any: a phone whose clock is off shows here
    // before it drifts out of the window.
    for t in s.tokens where t.drift != nil || t.skew != nil {
        let unit = t.kind == .totp ? "steps" : "counters"
        var line = "drift of \(t.name): \(t.drift ?? 0) \(unit) at the last code"
        if let period = t.period, let d = t.drift { line += " (\(d * period) s)" }
        if let skew = t.skew { line += "; window centred \(skew) steps off the clock (import or resync)" }
        print(line)
    }
    guard !s.pendingEnrollments.isEmpty else { return }
    // Not confirmed yet. One begun without a code (while there was no token) can no
    // longer be confirmed once a token exists; cancel what you did not begin.
    print("")
    Output.table(
        ["PENDING", "KIND", "BEGUN", "EXPIRES", "WITHOUT CODE"],
        s.pendingEnrollments.map { p in
            [p.name, p.kind.rawValue, Output.time(p.createdAt), Output.time(p.expiresAt), p.begunWithoutCode ? "yes" : "no"]
        })
}
