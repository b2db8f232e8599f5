import ArgumentParser
import OTPGateProtocol

/// What every importer takes besides its source.
struct ImportOptions: ParsableArguments {
    @Flag(name: .long, help: "Show what would be imported per user and change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "For users who already have tokens: remove their tokens, recovery and scratch codes, then import.")
    var replace = false

    @Flag(name: .long, help: "For users who already have tokens: keep them and add the imported ones.")
    var add = false

    func validate() throws {
        if replace && add { throw ValidationError("--replace and --add exclude each other") }
    }

    var mode: AdminImportRequest.Mode { replace ? .replace : add ? .add : .skip }
}
