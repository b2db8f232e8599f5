import ArgumentParser
import Glibc
import OTPGateClient
import OTPGateProtocol

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The daemon's socket (default: the public socket, or the admin socket for 'admin' commands).")
    var socket: String?

    @Option(name: .long, help: "Seconds to wait for the daemon.")
    var timeout: Int = 30

    @Flag(name: .long, help: "Print JSON for scripts instead of text for people.")
    var json = false

    func client(admin: Bool = false) -> OTPGateClient {
        let path = socket ?? (admin ? OTPGateClient.defaultAdminSocketPath : OTPGateClient.defaultSocketPath)
        // Trusted: root and the otpgate user (as for pam_otpgate), and yourself, so that a
        // daemon you run with --state-dir answers you; nobody else's socket is believed.
        return OTPGateClient(
            configuration: .init(socketPath: path, timeout: .seconds(max(1, timeout)), trustedUIDs: .standard(and: getuid())))
    }
}
