import ArgumentParser
import OTPGateClient
import OTPGateProtocol

struct RecoveryCodes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery-codes", abstract: "Manage your recovery codes.", subcommands: [Regenerate.self])

    struct Regenerate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace all your recovery codes with new ones (asks for a current code).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            guard let user = Terminal.currentUser else { throw Failure.exit("cannot tell who you are", status: 1) }
            guard let code = Terminal.readSecret(prompt: "Current code: "), !code.isEmpty else {
                throw Failure.exit("a current code is needed", status: 1)
            }
            let client = global.client()
            let result = try await call {
                try await client.regenerateRecoveryCodes(user: user, code: code)
            }
            if global.json { Output.json(result) } else { showRecoveryCodes(result.recoveryCodes) }
        }
    }
}
