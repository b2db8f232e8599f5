import ArgumentParser
import OTPGateClient
import OTPGateProtocol

/// `otpgate resync`: a person whose device drifted far (a phone with a wrong clock,
/// a hardware token pressed many times) types consecutive codes and the token moves
/// to where they are: forward only, never back past the last accepted code.
struct Resync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resynchronise your token from consecutive codes (2 for TOTP, 3 for HOTP).",
        discussion: """
            For TOTP, type the code shown now, then wait for the next one and type it: the
            daemon searches a day either side of its clock. For HOTP, press the button three
            times and type each code: it searches 10000 counters ahead. Nothing changes unless
            the codes are consecutive; a failed attempt counts like a failed login.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "The token's name or id (needed when you have several).")
    var token: String?

    func run() async throws {
        guard let user = Terminal.currentUser else { throw Failure.exit("cannot tell who you are", status: 1) }
        try await resync(user: user, token: token, client: global.client(), json: global.json)
    }
}

extension Admin {
    struct Resync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resynchronise a user's token from consecutive codes the user reads out (2 for TOTP, 3 for HOTP).")
        @OptionGroup var global: GlobalOptions
        @Argument var user: String
        @Option(help: "The token's name or id (needed when the user has several).")
        var token: String?

        func run() async throws {
            try await resync(user: user, token: token, client: global.client(admin: true), json: global.json)
        }
    }
}

func resync(user: String, token: String?, client: OTPGateClient, json: Bool) async throws {
    let status = try await call { try await client.status(user: user) }
    let candidates = token.map { t in status.tokens.filter { $0.name == t || $0.id == t } } ?? status.tokens
    guard let chosen = candidates.first else {
        throw Failure.exit(status.tokens.isEmpty ? "\(user) has no token" : "\(user) has no token '\(token ?? "")'", status: Failure.refused)
    }
    guard token != nil || status.tokens.count == 1 else {
        let names = status.tokens.map(\.name).joined(separator: ", ")
        throw Failure.exit("\(user) has several tokens (\(names)); name one with --token", status: Failure.refused)
    }
    let prompts =
        chosen.kind == .totp
        ? ["Code shown now: ", "Next code (wait until it changes): "]
        : ["First code: ", "Second code (press again): ", "Third code (press again): "]
    var codes: [String] = []
    for prompt in prompts {
        guard let code = Terminal.readSecret(prompt: prompt), !code.isEmpty else {
            throw Failure.exit("\(prompts.count) codes are needed", status: Failure.refused)
        }
        codes.append(code)
    }
    let result = try await call {
        try await client.resync(user: user, token: chosen.id, codes: codes)
    }
    if json { return Output.json(result) }
    if let seconds = result.seconds {
        let direction = result.drift < 0 ? "behind" : "ahead"
        print("Token '\(result.name)' resynchronised: its clock runs \(abs(result.drift)) steps (\(abs(seconds)) s) \(direction).")
    } else {
        print("Token '\(result.name)' resynchronised: it had moved \(result.drift) counters ahead.")
    }
}
