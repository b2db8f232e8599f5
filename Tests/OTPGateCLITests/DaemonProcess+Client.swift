import OTPGateClient
import OTPGateTestSupport

extension DaemonProcess {
    /// A client for the public socket, and one for the admin socket. The timeout only
    /// bounds a daemon that hangs: 30 s, since `swift test` runs beside other suites on
    /// a loaded machine, where 10 s was seen to expire on a daemon that was serving.
    var client: OTPGateClient { OTPGateClient(socketPath: socketPath, timeout: .seconds(30)) }
    var admin: OTPGateClient { OTPGateClient(socketPath: adminSocketPath, timeout: .seconds(30)) }
}
