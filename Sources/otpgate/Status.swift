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
    if let wait = s.retryAfter { print("rate limited:       wait \(wait) s") }
    guard !s.tokens.isEmpty else { return }
    print("")
    Output.table(
        ["NAME", "KIND", "ALGORITHM", "DIGITS", "PERIOD", "CREATED", "LAST USED"],
        s.tokens.map { t in
            [t.name, t.kind.rawValue, t.algorithm.rawValue, "\(t.digits)", t.period.map { "\($0)s" } ?? "-",
             Output.time(t.createdAt), Output.time(t.lastUsedAt)]
        })
}
