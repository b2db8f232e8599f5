// otpgate-client-example: what another local service does with OTPGateClient to check
// a one-time code, and the separate executable the CLI tests use to prove that the
// library works from outside this package's own programs.
//
//   otpgate-client-example [--socket PATH] [--service NAME] USER [CODE]
//
// Without CODE, the code is read from the first line of standard input (so it does not
// show in the process list). Exit status: 0 accepted, 1 refused, 2 rate limited,
// 3 daemon unreachable or unavailable, 64 bad command line.
import Foundation
import OTPGateClient
import OTPGateProtocol

func fail(_ message: String, _ status: Int32) -> Never {
    FileHandle.standardError.write(Data("otpgate-client-example: \(message)\n".utf8))
    exit(status)
}

var socketPath = OTPGateClient.defaultSocketPath
var service = "otpgate-client-example"
var positional: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--socket", "--service":
        guard let value = arguments.popFirst() else { fail("\(argument) needs a value", 64) }
        if argument == "--socket" { socketPath = value } else { service = value }
    case _ where argument.hasPrefix("-"):
        fail("unknown option \(argument)", 64)
    default:
        positional.append(argument)
    }
}
guard (1...2).contains(positional.count) else { fail("usage: otpgate-client-example [--socket PATH] [--service NAME] USER [CODE]", 64) }
let user = positional[0]
guard let code = positional.count == 2 ? positional[1] : readLine(strippingNewline: true) else {
    fail("no code given on the command line or standard input", 64)
}

let client = OTPGateClient(socketPath: socketPath, timeout: .seconds(5))
do {
    let result = try await client.verify(user: user, code: code, service: service)
    let token = result.token.map { " token \($0)" } ?? ""
    print("accepted: \(result.factor.rawValue)\(token), \(result.recoveryRemaining) recovery codes left")
} catch let error as OTPGateClientError {
    // Fail closed: anything but a success is a "no".
    if error.code == .daemon(.rateLimited) { fail("refused: \(error.message)", 2) }
    if error.isUnavailable || error.code == .permissionDenied { fail("no answer: \(error.message)", 3) }
    fail("refused: \(error.message)", 1)
} catch {
    fail("no answer: \(error)", 3)
}
