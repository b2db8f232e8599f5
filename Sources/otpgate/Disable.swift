import ArgumentParser
import OTPGateClient
import OTPGateProtocol

struct Disable: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove your token (asks for a current code). With several tokens, use 'otpgate token remove NAME'.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard let user = Terminal.currentUser else { throw Failure.exit("cannot tell who you are", status: 1) }
        let client = global.client()
        let status = try await call { try await client.status(user: user) }
        guard status.tokens.count == 1, let token = status.tokens.first else {
            if status.tokens.isEmpty { throw Failure.exit("you have no token", status: Failure.refused) }
            let names = status.tokens.map(\.name).joined(separator: ", ")
            throw Failure.exit("you have several tokens (\(names)); remove one with 'otpgate token remove NAME'", status: Failure.refused)
        }
        try await removeToken(user: user, token: token.name, client: client, json: global.json)
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage your tokens.", subcommands: [Remove.self])

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove one of your tokens (asks for a current code).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The token's name or id.")
        var token: String

        func run() async throws {
            guard let user = Terminal.currentUser else { throw Failure.exit("cannot tell who you are", status: 1) }
            try await removeToken(user: user, token: token, client: global.client(), json: global.json)
        }
    }
}

func removeToken(user: String, token: String, client: OTPGateClient, json: Bool) async throws {
    guard let code = Terminal.readSecret(prompt: "Current code: "), !code.isEmpty else {
        throw Failure.exit("a current code is needed", status: Failure.refused)
    }
    let result = try await call {
        try await client.removeToken(user: user, token: token, code: code)
    }
    if json {
        Output.json(result)
    } else {
        print(result.enrolled ? "Token '\(token)' removed." : "Token '\(token)' removed; you have no second factor any more.")
    }
}
